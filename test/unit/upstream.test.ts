import { afterEach, describe, expect, it, vi } from "vitest";
import { fetchWithin, type UpstreamRequest } from "../../shared/upstream.ts";
import { rejectionOf } from "../helpers/service-error.ts";

const request = (): UpstreamRequest => ({ url: "https://upstream.example/secret-path?token=abc", method: "POST", headers: { accept: "application/json" }, body: "{}" });

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
    await fetchWithin(async (url, init) => {
      seen.push(url, init.method, init.headers, init.body);
      return new Response("");
    }, request(), 1000, "Up");
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
});
