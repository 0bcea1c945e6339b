import { afterEach, describe, expect, it, vi } from "vitest";
import { ServiceError } from "../../shared/errors.ts";
import { callWithRetry, deadlineIn, type Fetch, type UpstreamRequest } from "../../shared/upstream/upstream.ts";

afterEach(() => {
  vi.useRealTimers();
});

function scripted(...steps: (number | "reset" | "hang" | { status: number; retryAfter: string })[]) {
  const calls: number[] = [];
  const fetch: Fetch = async () => {
    calls.push(performance.now());
    const step = steps[Math.min(calls.length - 1, steps.length - 1)];
    if (step === "reset") throw new TypeError("fetch failed");
    if (step === "hang") return new Promise<Response>(() => {});
    if (typeof step === "number") return new Response("{}", { status: step });
    return new Response("{}", { status: step.status, headers: { "retry-after": step.retryAfter } });
  };
  return { calls, fetch };
}

const request = (): UpstreamRequest => ({ url: "https://up.example/x", method: "POST", headers: {}, body: '{"ttl":1}' });
const options = (fetch: Fetch, total = 5000, random = () => 0.5) => ({
  fetch,
  attemptTimeoutMs: 1000,
  deadline: deadlineIn(total),
  provider: "Up",
  random,
});

describe("callWithRetry", () => {
  it.each([500, 502, 503, 429])("retries a %i once, then returns the last reply", async (status) => {
    const { calls, fetch } = scripted(status, status, status);
    const reply = await callWithRetry(request(), options(fetch));
    expect(reply.status).toBe(status);
    // "Once" is the promise: a second attempt, and no third.
    expect(calls).toHaveLength(2);
  });

  it("retries a network failure once, then throws upstream_unreachable", async () => {
    const { calls, fetch } = scripted("reset");
    await expect(callWithRetry(request(), options(fetch))).rejects.toMatchObject({ code: "upstream_unreachable" });
    expect(calls).toHaveLength(2);
  });

  it("serves the retry's success", async () => {
    const { fetch } = scripted(503, 201);
    expect((await callWithRetry(request(), options(fetch))).status).toBe(201);
  });

  it("sends the same body on the retry", async () => {
    const bodies: string[] = [];
    const fetch: Fetch = async (_url, init) => {
      bodies.push(init.body ?? "");
      return new Response("", { status: bodies.length === 1 ? 500 : 201 });
    };
    await callWithRetry(request(), options(fetch));
    expect(bodies).toEqual(['{"ttl":1}', '{"ttl":1}']);
  });

  it.each([400, 401, 403, 404, 409, 422])("never retries a %i", async (status) => {
    const { calls, fetch } = scripted(status);
    expect((await callWithRetry(request(), options(fetch))).status).toBe(status);
    expect(calls).toHaveLength(1);
  });

  it("does not retry a timeout: a slow provider is left for the next one", async () => {
    vi.useFakeTimers();
    const { calls, fetch } = scripted("hang");
    const settled = callWithRetry(request(), options(fetch)).catch((error) => error);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await settled).toMatchObject({ code: "upstream_timeout" });
    expect(calls).toHaveLength(1);
  });

  it("waits a full-jitter backoff: random() × 200 ms before the second attempt", async () => {
    vi.useFakeTimers();
    const { calls, fetch } = scripted(500, 201);
    const settled = callWithRetry(
      request(),
      options(fetch, 5000, () => 0.75),
    );
    await vi.advanceTimersByTimeAsync(149);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    expect((await settled).status).toBe(201);
  });

  it("honours a Retry-After that fits the budget", async () => {
    vi.useFakeTimers();
    const { calls, fetch } = scripted({ status: 429, retryAfter: "2" }, 201);
    const settled = callWithRetry(request(), options(fetch, 5000));
    await vi.advanceTimersByTimeAsync(1999);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect((await settled).status).toBe(201);
  });

  it("moves on at once when the Retry-After does not fit the budget", async () => {
    const { calls, fetch } = scripted({ status: 503, retryAfter: "5" });
    const started = performance.now();
    const reply = await callWithRetry(request(), options(fetch, 3000));
    expect(reply.status).toBe(503);
    expect(calls).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("caps an attempt at what is left of the overall budget", async () => {
    vi.useFakeTimers();
    const { fetch } = scripted("hang");
    const settled = callWithRetry(request(), { ...options(fetch, 300), attemptTimeoutMs: 10_000 }).catch((error) => error);
    await vi.advanceTimersByTimeAsync(300);
    const error = await settled;
    expect(error).toBeInstanceOf(ServiceError);
    expect(error.code).toBe("upstream_timeout");
  });
});
