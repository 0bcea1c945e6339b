import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_UPSTREAM_BODY_BYTES } from "../../shared/upstream/capped-body.ts";
import { fetchWithin, type UpstreamRequest } from "../../shared/upstream/upstream.ts";
import { rejectionOf } from "../helpers/service-error.ts";

const request = (): UpstreamRequest => ({
  url: "https://upstream.example/secret-path?token=abc",
  method: "POST",
  headers: { accept: "application/json" },
  body: "{}",
});

afterEach(() => {
  vi.useRealTimers();
});

describe("fetchWithin", () => {
  it("returns the status, headers and the whole body, and leaves no timer behind", async () => {
    vi.useFakeTimers();
    const reply = await fetchWithin(async () => new Response("hello", { status: 201, headers: { "x-a": "1" } }), request(), 1000, "Up");
    expect(reply.status).toBe(201);
    expect(reply.body).toBe("hello");
    expect(reply.headers.get("x-a")).toBe("1");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("hands fetch the URL, method, headers and string body as given", async () => {
    const seen: unknown[] = [];
    await fetchWithin(
      async (url, init) => {
        seen.push(url, init.method, init.headers, init.body);
        return new Response("");
      },
      request(),
      1000,
      "Up",
    );
    expect(seen).toEqual(["https://upstream.example/secret-path?token=abc", "POST", { accept: "application/json" }, "{}"]);
  });

  it("passes an abort signal to the fetch and fires it at the deadline", async () => {
    vi.useFakeTimers();
    let seen: AbortSignal | undefined;
    const pending = fetchWithin(
      (_, init) => {
        seen = init.signal;
        return new Promise(() => {});
      },
      request(),
      1000,
      "Up",
    );
    const settled = rejectionOf(pending);
    await vi.advanceTimersByTimeAsync(1000);
    const error = await settled;
    expect(error.code).toBe("upstream_timeout");
    expect(seen?.aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("answers in time even when the fetch ignores its signal", async () => {
    vi.useFakeTimers();
    const settled = rejectionOf(fetchWithin(() => new Promise(() => {}), request(), 250, "Up"));
    await vi.advanceTimersByTimeAsync(250);
    expect((await settled).code).toBe("upstream_timeout");
  });

  it("counts the body against the budget: a body that never ends times out", async () => {
    vi.useFakeTimers();
    const endless = new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode("{")) });
    const settled = rejectionOf(fetchWithin(async () => new Response(endless, { status: 201 }), request(), 500, "Up"));
    await vi.advanceTimersByTimeAsync(500);
    expect((await settled).code).toBe("upstream_timeout");
  });

  it("turns a network failure into upstream_unreachable without the URL or the cause", async () => {
    const error = await rejectionOf(
      fetchWithin(async (url) => Promise.reject(new TypeError(`fetch failed for ${url}`)), request(), 1000, "Up"),
    );
    expect(error.code).toBe("upstream_unreachable");
    expect(error.status).toBe(502);
    expect(error.message).not.toContain("secret-path");
    expect(error.message).not.toContain("token");
  });

  describe("the body cap", () => {
    /** An endless body of 16 KiB chunks, counting what is pulled from it and whether it was cancelled. */
    function endlessBody() {
      const seen = { pulled: 0, cancelled: false };
      const chunk = new Uint8Array(16 * 1024).fill(0x20);
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          seen.pulled += chunk.byteLength;
          controller.enqueue(chunk);
        },
        cancel() {
          seen.cancelled = true;
        },
      });
      return { stream, seen };
    }

    it("reads a body of exactly the cap", async () => {
      const reply = await fetchWithin(async () => new Response("x".repeat(MAX_UPSTREAM_BODY_BYTES)), request(), 1000, "Up");
      expect(reply.body.length).toBe(MAX_UPSTREAM_BODY_BYTES);
    });

    it("refuses a declared Content-Length over the cap before reading the body: 502 upstream_invalid_response", async () => {
      const { stream, seen } = endlessBody();
      const response = new Response(stream, { headers: { "content-length": String(MAX_UPSTREAM_BODY_BYTES + 1) } });
      const error = await rejectionOf(fetchWithin(async () => response, request(), 1000, "Up"));
      expect(error.code).toBe("upstream_invalid_response");
      expect(error.status).toBe(502);
      expect(error.message).toBe("Up answered with a body over 256 KiB");
      expect(seen.cancelled).toBe(true);
      // What the stream queued on its own before anyone read: nothing more.
      expect(seen.pulled).toBeLessThanOrEqual(16 * 1024);
    });

    it("cuts off a body without a length at the cap, and cancels it", async () => {
      const { stream, seen } = endlessBody();
      const error = await rejectionOf(fetchWithin(async () => new Response(stream), request(), 5000, "Up"));
      expect(error.code).toBe("upstream_invalid_response");
      expect(seen.cancelled).toBe(true);
      expect(seen.pulled).toBeLessThanOrEqual(MAX_UPSTREAM_BODY_BYTES + 2 * 16 * 1024);
    });

    it("holds a client without a stream to the cap too", async () => {
      const big = { status: 200, headers: new Headers(), text: async () => "é".repeat(MAX_UPSTREAM_BODY_BYTES / 2 + 1) };
      expect((await rejectionOf(fetchWithin(async () => big, request(), 1000, "Up"))).code).toBe("upstream_invalid_response");
    });

    it("tells the client the cap", async () => {
      let cap: number | undefined;
      await fetchWithin(
        async (_, init) => {
          cap = init.maxBodyBytes;
          return new Response("");
        },
        request(),
        1000,
        "Up",
      );
      expect(cap).toBe(MAX_UPSTREAM_BODY_BYTES);
    });
  });
});
