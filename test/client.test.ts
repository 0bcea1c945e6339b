import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createIceSource,
  getIceServers,
  IceServersError,
  keepFresh,
  revokeIceServers,
  revokeUrl,
  type FetchLike,
  type IceServers,
  type PeerConnectionEvent,
  type PeerConnectionLike,
} from "turn-vend/client"; // the package.json "exports" entry, as an app would import it

const T0 = Date.parse("2026-01-01T00:00:00.000Z");

// A real RTCPeerConnection must fit what keepFresh asks for (checked by tsc only).
export type _RealPcFits = RTCPeerConnection extends PeerConnectionLike ? true : never;
const _realPcFits: _RealPcFits = true;
void _realPcFits;

interface Call {
  at: number;
  url: string;
  init: RequestInit;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

let minted = 0;
function okBody(ttl: number, extra: Record<string, unknown> = {}) {
  minted += 1;
  return {
    iceServers: [
      { urls: ["stun:turn.example.test:3478"] },
      { urls: ["turn:turn.example.test:3478?transport=udp"], username: `user-${minted}`, credential: `cred-${minted}` },
    ],
    ttl,
    expiresAt: new Date(Date.now() + ttl * 1000).toISOString(),
    provider: "shared-secret",
    ...extra,
  };
}

/** A fetch that records calls; `reply` decides each answer (default: 200 with the asked ttl). */
function fakeFetch(reply?: (call: Call, index: number) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fn: FetchLike = async (url, init) => {
    const call = { at: Date.now(), url, init };
    calls.push(call);
    if (reply) return reply(call, calls.length - 1);
    const ttl = Number(new URL(url, "http://page.test").searchParams.get("ttl") ?? 86_400);
    return json(200, okBody(ttl));
  };
  const issues = () => calls.filter((call) => (call.init.method ?? "GET") === "GET");
  const revokes = () => calls.filter((call) => call.init.method === "POST");
  return { fn, calls, issues, revokes };
}

class FakePc implements PeerConnectionLike {
  connectionState: RTCPeerConnectionState = "connected";
  signalingState: RTCSignalingState = "stable";
  configuration: RTCConfiguration = {
    iceServers: [{ urls: "turn:old.example.test", username: "old", credential: "old" }],
    iceTransportPolicy: "relay",
    bundlePolicy: "max-bundle",
  };
  applied: { at: number; configuration: RTCConfiguration }[] = [];
  /** The DOMException name setConfiguration throws, or false to accept. */
  refuse: string | false = false;
  private listeners = new Set<(event: Event) => void>();

  getConfiguration(): RTCConfiguration {
    return { ...this.configuration };
  }
  setConfiguration(configuration: RTCConfiguration = {}): void {
    if (this.signalingState === "closed") throw new DOMException("closed", "InvalidStateError");
    if (this.refuse) throw new DOMException("refused", this.refuse);
    this.configuration = configuration;
    this.applied.push({ at: Date.now(), configuration });
  }
  addEventListener(_type: PeerConnectionEvent, listener: (event: Event) => void): void {
    this.listeners.add(listener);
  }
  removeEventListener(_type: PeerConnectionEvent, listener: (event: Event) => void): void {
    this.listeners.delete(listener);
  }
  listenersForTest(): ((event: Event) => void)[] {
    return [...this.listeners];
  }
  get listenerCount() {
    return this.listeners.size;
  }
  /** A state change event (connectionstatechange or signalingstatechange). */
  fire(): void {
    for (const listener of this.listeners) listener(new Event("statechange"));
  }
  /** As pc.close() does: the state changes and no event fires, unless asked. */
  close({ event = false } = {}): void {
    this.connectionState = "closed";
    this.signalingState = "closed";
    if (event) this.fire();
  }
  usernames(): (string | undefined)[] {
    return (this.configuration.iceServers ?? []).map((server) => server.username);
  }
}

/** What getIceServers would have returned at `at`, for `initial`. */
function initialAt(at: number, ttl: number, revokeToken?: string): IceServers {
  return {
    config: { iceServers: [{ urls: ["turn:old.example.test"], username: "old", credential: "old" }] },
    ttl,
    expiresAt: new Date(at + ttl * 1000),
    fetchedAt: new Date(at),
    provider: "shared-secret",
    degraded: false,
    ...(revokeToken ? { revokeToken } : {}),
  };
}

const since = (at: number) => at - T0;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("getIceServers", () => {
  it("GETs the endpoint with the ttl and extra headers, and returns the config with expiry and token alongside", async () => {
    const fetch = fakeFetch(() => json(200, okBody(600, { revokeToken: "rt-1" })));
    const result = await getIceServers({ ttl: 600, fetch: fetch.fn, headers: { authorization: "Bearer abc" } });

    expect(fetch.calls).toHaveLength(1);
    expect(fetch.calls[0].url).toBe("/api/ice-servers?ttl=600");
    expect(fetch.calls[0].init.method).toBe("GET");
    expect(fetch.calls[0].init.cache).toBe("no-store");
    const headers = new Headers(fetch.calls[0].init.headers);
    expect(headers.get("authorization")).toBe("Bearer abc");
    expect(headers.get("accept")).toBe("application/json");

    expect(Object.keys(result.config)).toEqual(["iceServers"]);
    expect(result.config.iceServers).toEqual([
      { urls: ["stun:turn.example.test:3478"] },
      { urls: ["turn:turn.example.test:3478?transport=udp"], username: `user-${minted}`, credential: `cred-${minted}` },
    ]);
    expect(result.ttl).toBe(600);
    expect(result.expiresAt).toBeInstanceOf(Date);
    expect(result.expiresAt.toISOString()).toBe(new Date(T0 + 600_000).toISOString());
    expect(result.fetchedAt.getTime()).toBe(T0);
    expect(result.provider).toBe("shared-secret");
    expect(result.revokeToken).toBe("rt-1");
    expect(result.degraded).toBe(false);
  });

  it("leaves the ttl to the server when none is given, and appends it to an endpoint that has a query", async () => {
    const fetch = fakeFetch();
    await getIceServers({ fetch: fetch.fn });
    await getIceServers({ fetch: fetch.fn, endpoint: "https://turn.example.test/api/ice-servers?room=1", ttl: 60 });
    expect(fetch.calls.map((call) => call.url)).toEqual(["/api/ice-servers", "https://turn.example.test/api/ice-servers?room=1&ttl=60"]);
  });

  it("asks a headers function again before each request", async () => {
    const fetch = fakeFetch();
    let token = 0;
    const headers = async () => ({ authorization: `Bearer t${++token}` });
    await getIceServers({ fetch: fetch.fn, headers });
    await getIceServers({ fetch: fetch.fn, headers });
    expect(fetch.calls.map((call) => new Headers(call.init.headers).get("authorization"))).toEqual(["Bearer t1", "Bearer t2"]);
  });

  it("uses the global fetch by default", async () => {
    const fetch = fakeFetch();
    vi.stubGlobal("fetch", fetch.fn);
    const result = await getIceServers();
    expect(fetch.calls).toHaveLength(1);
    expect(result.revokeToken).toBeUndefined();
  });

  it("refuses a ttl that is not a whole positive number before sending anything", async () => {
    const fetch = fakeFetch();
    for (const ttl of [0, -1, 1.5, Number.NaN]) {
      await expect(getIceServers({ ttl, fetch: fetch.fn })).rejects.toThrow(TypeError);
    }
    expect(fetch.calls).toHaveLength(0);
  });

  it("refuses a timeoutMs out of a timer's range before sending anything", async () => {
    const fetch = fakeFetch();
    for (const timeoutMs of [0, -5, 2 ** 31, Number.NaN]) {
      await expect(getIceServers({ timeoutMs, fetch: fetch.fn })).rejects.toThrow(RangeError);
    }
    expect(fetch.calls).toHaveLength(0);
  });

  it("calls headers that are not valid HTTP headers headers_failed", async () => {
    const fetch = fakeFetch();
    await expect(getIceServers({ fetch: fetch.fn, headers: () => ({ "bad header": "x" }) })).rejects.toMatchObject({
      code: "headers_failed",
    });
    expect(fetch.calls).toHaveLength(0);
  });

  it("throws the server's error code, status and message as an IceServersError", async () => {
    const fetch = fakeFetch(() =>
      json(503, { error: { code: "upstream_unavailable", message: "the provider is unavailable" } }, { "retry-after": "7" }),
    );
    const error = await getIceServers({ fetch: fetch.fn }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IceServersError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: "IceServersError",
      code: "upstream_unavailable",
      status: 503,
      message: "the provider is unavailable",
      retryAfter: 7,
    });
  });

  it("reads a Retry-After given as a date", async () => {
    const later = new Date(T0 + 30_000).toUTCString();
    const fetch = fakeFetch(() => json(429, { error: { code: "upstream_rate_limited", message: "slow down" } }, { "retry-after": later }));
    await expect(getIceServers({ fetch: fetch.fn })).rejects.toMatchObject({ code: "upstream_rate_limited", retryAfter: 30 });
  });

  it("calls an error answer without our JSON body http_error", async () => {
    const fetch = fakeFetch(() => new Response("<h1>Bad gateway</h1>", { status: 502, headers: { "content-type": "text/html" } }));
    await expect(getIceServers({ fetch: fetch.fn })).rejects.toMatchObject({ code: "http_error", status: 502 });
  });

  it("calls a 200 of the wrong shape invalid_response", async () => {
    for (const body of [
      "not json",
      JSON.stringify({ ttl: 60 }),
      JSON.stringify({ iceServers: [{ username: "u" }], ttl: 60 }),
      JSON.stringify({ iceServers: [] }),
    ]) {
      const fetch = fakeFetch(() => new Response(body, { status: 200 }));
      await expect(getIceServers({ fetch: fetch.fn })).rejects.toMatchObject({
        name: "IceServersError",
        code: "invalid_response",
        status: 200,
      });
    }
  });

  it("gives a network failure its own code, with the cause kept", async () => {
    const cause = new TypeError("Failed to fetch");
    const fetch = fakeFetch(() => Promise.reject(cause));
    const error = (await getIceServers({ fetch: fetch.fn }).catch((caught: unknown) => caught)) as IceServersError;
    expect(error).toBeInstanceOf(IceServersError);
    expect(error.code).toBe("network_error");
    expect(error.status).toBe(0);
    expect(error.cause).toBe(cause);
  });

  function hangingFetch(): FetchLike {
    return (_url, init) =>
      new Promise((_resolve, reject) => {
        init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      });
  }

  it("gives up after timeoutMs with code timeout", async () => {
    const pending = getIceServers({ fetch: hangingFetch(), timeoutMs: 3000 }).catch((caught: unknown) => caught);
    await vi.advanceTimersByTimeAsync(2999);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pending).toMatchObject({ code: "timeout", status: 0 });
  });

  it("stops when the caller's signal aborts, with code aborted", async () => {
    const controller = new AbortController();
    const pending = getIceServers({ fetch: hangingFetch(), signal: controller.signal }).catch((caught: unknown) => caught);
    controller.abort();
    expect(await pending).toMatchObject({ code: "aborted" });
  });

  it("reports degraded: true when the server served STUN-only after every provider failed", async () => {
    const fetch = fakeFetch(() => json(200, { ...okBody(600), provider: "none", degraded: true }));
    const result = await getIceServers({ fetch: fetch.fn });
    expect(result.degraded).toBe(true);
    expect(result.provider).toBe("none");
  });

  it("derives the revoke URL from the endpoint", () => {
    expect(revokeUrl()).toBe("/api/ice-servers/revoke");
    expect(revokeUrl("https://x.test/api/ice-servers/?a=1")).toBe("https://x.test/api/ice-servers/revoke");
  });
});

describe("revokeIceServers", () => {
  it("POSTs the token as JSON to the revoke endpoint with the extra headers, and resolves on 204", async () => {
    const fetch = fakeFetch(() => new Response(null, { status: 204 }));
    await revokeIceServers("rt-9", {
      fetch: fetch.fn,
      endpoint: "https://x.test/api/ice-servers",
      headers: { authorization: "Bearer abc" },
    });
    expect(fetch.calls).toHaveLength(1);
    expect(fetch.calls[0].url).toBe("https://x.test/api/ice-servers/revoke");
    expect(fetch.calls[0].init.method).toBe("POST");
    const headers = new Headers(fetch.calls[0].init.headers);
    expect(headers.get("content-type")).toBe("application/json");
    expect(headers.get("authorization")).toBe("Bearer abc");
    expect(JSON.parse(String(fetch.calls[0].init.body))).toEqual({ revokeToken: "rt-9" });
  });

  it("sends before it returns when the headers are not a function, so that pagehide can use it", async () => {
    const fetch = fakeFetch(() => new Response(null, { status: 204 }));
    const pending = revokeIceServers("rt-9", { fetch: fetch.fn, headers: { authorization: "Bearer abc" } });
    expect(fetch.calls).toHaveLength(1);
    await pending;
  });

  it("rejects with revoke_failed when the network fails, and with the server's code when it refuses", async () => {
    const offline = fakeFetch(() => Promise.reject(new TypeError("offline")));
    await expect(revokeIceServers("rt-9", { fetch: offline.fn })).rejects.toMatchObject({ name: "IceServersError", code: "revoke_failed" });
    const refused = fakeFetch(() => json(403, { error: { code: "invalid_revoke_token", message: "not ours" } }));
    await expect(revokeIceServers("rt-9", { fetch: refused.fn })).rejects.toMatchObject({
      code: "invalid_revoke_token",
      status: 403,
      message: "not ours",
    });
    const bare = fakeFetch(() => new Response("<h1>oops</h1>", { status: 502 }));
    await expect(revokeIceServers("rt-9", { fetch: bare.fn })).rejects.toMatchObject({ code: "revoke_failed", status: 502 });
  });
});

describe("keepFresh", () => {
  it("refreshes at 80% of the lifetime and applies the servers, keeping the rest of the configuration", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch();
    const refreshed: IceServers[] = [];
    const stop = keepFresh(pc, {
      fetch: fetch.fn,
      ttl: 100,
      initial: initialAt(T0, 100),
      random: () => 0.5,
      onRefresh: (r) => refreshed.push(r),
    });

    await vi.advanceTimersByTimeAsync(79_999);
    expect(fetch.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([80_000]);
    expect(fetch.calls[0].url).toBe("/api/ice-servers?ttl=100");
    expect(pc.applied).toHaveLength(1);
    expect(pc.configuration.iceTransportPolicy).toBe("relay");
    expect(pc.configuration.bundlePolicy).toBe("max-bundle");
    expect(pc.usernames()).toEqual([undefined, `user-${minted}`]);
    expect(refreshed).toHaveLength(1);

    // The next refresh counts from the new credentials.
    await vi.advanceTimersByTimeAsync(80_000);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([80_000, 160_000]);
    await stop();
  });

  it("fetches at once when it has no initial answer", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch();
    const stop = keepFresh(pc, { fetch: fetch.fn, ttl: 50, random: () => 0.5 });
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([0]);
    expect(pc.applied).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(40_000);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([0, 40_000]);
    await stop();
  });

  it("schedules from the device's clock (fetchedAt + ttl), not the server's expiresAt", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch();
    // The server's clock is an hour ahead: its expiresAt says nothing about our schedule.
    const initial = { ...initialAt(T0, 100), expiresAt: new Date(T0 + 3_700_000) };
    const stop = keepFresh(pc, { fetch: fetch.fn, initial, random: () => 0.5 });
    await vi.advanceTimersByTimeAsync(80_000);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([80_000]);
    await stop();
  });

  it.each([
    [0, 72_000],
    [0.999_999, 88_000],
  ])("jitters the refresh by at most ±10%% (random %s → %s ms)", async (random, expected) => {
    const pc = new FakePc();
    const fetch = fakeFetch();
    const stop = keepFresh(pc, { fetch: fetch.fn, initial: initialAt(T0, 100), random: () => random });
    await vi.advanceTimersByTimeAsync(expected - 2);
    expect(fetch.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(2);
    expect(fetch.calls).toHaveLength(1);
    await stop();
  });

  it("keeps every jittered refresh within 72% to 88% of the lifetime", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch();
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const stop = keepFresh(pc, { fetch: fetch.fn, ttl: 100, initial: initialAt(T0, 100), random, closeCheckMs: 60_000 });
    await vi.advanceTimersByTimeAsync(100 * 88_000);
    const gaps = fetch.calls.map((call, i) => call.at - (i === 0 ? T0 : fetch.calls[i - 1].at));
    expect(gaps.length).toBeGreaterThanOrEqual(100);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(72_000);
      expect(gap).toBeLessThanOrEqual(88_000);
    }
    expect(new Set(gaps).size).toBeGreaterThan(10);
    await stop();
  });

  it("retries a failure with exponential backoff, reports each failure, and starts over after a success", async () => {
    const pc = new FakePc();
    const failures: { code: string; attempt: number; retryInMs: number | undefined }[] = [];
    const fetch = fakeFetch((_call, index) => (index < 4 ? Promise.reject(new TypeError("offline")) : json(200, okBody(3600))));
    const stop = keepFresh(pc, {
      fetch: fetch.fn,
      initial: initialAt(T0, 3600),
      random: () => 0.5,
      onError: (error, info) => failures.push({ code: (error as IceServersError).code, ...info }),
    });
    await vi.advanceTimersByTimeAsync(2_880_000 + 1000 + 2000 + 4000 + 8000);
    expect(fetch.calls.map((call) => since(call.at) - 2_880_000)).toEqual([0, 1000, 3000, 7000, 15_000]);
    expect(failures).toEqual([
      { code: "network_error", attempt: 1, retryInMs: 1000 },
      { code: "network_error", attempt: 2, retryInMs: 2000 },
      { code: "network_error", attempt: 3, retryInMs: 4000 },
      { code: "network_error", attempt: 4, retryInMs: 8000 },
    ]);
    expect(pc.applied).toHaveLength(1);
    // A success resets the schedule to 80% of the new lifetime.
    await vi.advanceTimersByTimeAsync(2_880_000);
    expect(fetch.calls).toHaveLength(6);
    await stop();
  });

  it("bounds the backoff by maxRetryMs, jitter included", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch(() => json(502, { error: { code: "upstream_error", message: "bad" } }));
    const delays: number[] = [];
    const stop = keepFresh(pc, {
      fetch: fetch.fn,
      random: () => 0.999_999,
      maxRetryMs: 10_000,
      onError: (_error, info) => delays.push(info.retryInMs!),
    });
    await vi.advanceTimersByTimeAsync(200_000);
    expect(delays.slice(0, 4)).toEqual([1100, 2200, 4400, 8800]);
    expect(Math.max(...delays)).toBeLessThanOrEqual(11_000);
    expect(delays.slice(4).every((delay) => delay === 11_000)).toBe(true);
    await stop();
  });

  it("never lets the credentials expire without one last attempt, early enough for a request that takes timeoutMs", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch(() => Promise.reject(new TypeError("offline")));
    const stop = keepFresh(pc, { fetch: fetch.fn, initial: initialAt(T0, 100), random: () => 0.5 });
    // 80 s fails; 81, 83, 87 s fail; the next (8 s) would pass the last chance, 100 s − 10 s
    // (the smaller of timeoutMs + 1 s and half the time left after refreshAt), so 90 s.
    await vi.advanceTimersByTimeAsync(90_000);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([80_000, 81_000, 83_000, 87_000, 90_000]);
    // Past the expiry, the backoff goes on (16 s) to pick the connection up again later.
    await vi.advanceTimersByTimeAsync(16_000);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([80_000, 81_000, 83_000, 87_000, 90_000, 106_000]);
    expect(pc.applied).toHaveLength(0);
    await stop();
  });

  it("waits for the server's Retry-After, but not past the last chance before expiry", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch((_call, index) =>
      index === 0
        ? json(503, { error: { code: "upstream_unavailable", message: "later" } }, { "retry-after": "5" })
        : index === 1
          ? json(503, { error: { code: "upstream_unavailable", message: "later" } }, { "retry-after": "500" })
          : json(200, okBody(100)),
    );
    const stop = keepFresh(pc, { fetch: fetch.fn, initial: initialAt(T0, 100), random: () => 0.5 });
    await vi.advanceTimersByTimeAsync(100_000);
    // 80 s: 503, Retry-After 5 → 85 s: 503, Retry-After 500 → last chance before 100 s, 90 s.
    expect(fetch.calls.slice(0, 3).map((call) => since(call.at))).toEqual([80_000, 85_000, 90_000]);
    expect(pc.applied).toHaveLength(1);
    await stop();
  });

  it("reports apply_failed when setConfiguration refuses the servers, and retries applying the same answer", async () => {
    const pc = new FakePc();
    pc.refuse = "OperationError";
    const fetch = fakeFetch();
    const failures: { code: string; retryInMs: number | undefined }[] = [];
    const stop = keepFresh(pc, {
      fetch: fetch.fn,
      ttl: 100,
      random: () => 0.5,
      onError: (error, info) => failures.push({ code: (error as IceServersError).code, retryInMs: info.retryInMs }),
    });
    await vi.advanceTimersByTimeAsync(1000);
    expect(failures).toEqual([
      { code: "apply_failed", retryInMs: 1000 },
      { code: "apply_failed", retryInMs: 2000 },
    ]);
    pc.refuse = false;
    await vi.advanceTimersByTimeAsync(2000);
    expect(pc.applied).toHaveLength(1);
    // One answer fetched, applied on the third try: no credential minted per retry.
    expect(fetch.calls).toHaveLength(1);
    await stop();
  });

  it("stops refreshing when the stop function is called, aborting a request in flight", async () => {
    const pc = new FakePc();
    let aborted = false;
    const fetch = fakeFetch(
      (call) =>
        new Promise((_resolve, reject) => {
          call.init.signal?.addEventListener("abort", () => {
            aborted = true;
            reject(new DOMException("aborted", "AbortError"));
          });
        }),
    );
    const errors: unknown[] = [];
    const stop = keepFresh(pc, { fetch: fetch.fn, initial: initialAt(T0, 10), random: () => 0.5, onError: (e) => errors.push(e) });
    await vi.advanceTimersByTimeAsync(8_000);
    expect(fetch.calls).toHaveLength(1);
    await stop();
    expect(aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(1_000_000);
    expect(fetch.calls).toHaveLength(1);
    expect(errors).toEqual([]);
    expect(pc.listenerCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("stops on connectionstatechange to closed", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch();
    keepFresh(pc, { fetch: fetch.fn, initial: initialAt(T0, 10), random: () => 0.5 });
    await vi.advanceTimersByTimeAsync(5_000);
    pc.close({ event: true });
    await vi.advanceTimersByTimeAsync(1_000_000);
    expect(fetch.calls).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("notices pc.close(), which fires no event, within closeCheckMs", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch();
    keepFresh(pc, { fetch: fetch.fn, initial: initialAt(T0, 10), random: () => 0.5, closeCheckMs: 500 });
    await vi.advanceTimersByTimeAsync(7_000);
    pc.close();
    await vi.advanceTimersByTimeAsync(500);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(1_000_000);
    expect(fetch.calls).toHaveLength(0);
  });

  it("does not apply an answer that arrives after the connection closed", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch(async () => {
      pc.close();
      return json(200, okBody(10));
    });
    keepFresh(pc, { fetch: fetch.fn, initial: initialAt(T0, 10), random: () => 0.5, closeCheckMs: 60_000 });
    await vi.advanceTimersByTimeAsync(8_000);
    expect(fetch.calls).toHaveLength(1);
    expect(pc.applied).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("with revokeOnClose, POSTs every known revokeToken to the revoke endpoint when the connection closes", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch((call) =>
      call.init.method === "POST" ? new Response(null, { status: 204 }) : json(200, okBody(10, { revokeToken: `rt-${minted + 1}` })),
    );
    const before = minted;
    keepFresh(pc, {
      fetch: fetch.fn,
      endpoint: "/api/ice-servers",
      headers: { authorization: "Bearer abc" },
      initial: initialAt(T0, 10, "rt-initial"),
      revokeOnClose: true,
      random: () => 0.5,
    });
    await vi.advanceTimersByTimeAsync(8_000);
    expect(fetch.issues()).toHaveLength(1);
    expect(fetch.revokes()).toHaveLength(0);
    pc.close({ event: true });
    await vi.advanceTimersByTimeAsync(0);
    const revokes = fetch.revokes();
    expect(revokes.map((call) => call.url)).toEqual(["/api/ice-servers/revoke", "/api/ice-servers/revoke"]);
    expect(revokes.map((call) => JSON.parse(String(call.init.body)))).toEqual([
      { revokeToken: "rt-initial" },
      { revokeToken: `rt-${before + 1}` },
    ]);
    const headers = new Headers(revokes[0].init.headers);
    expect(headers.get("content-type")).toBe("application/json");
    expect(headers.get("authorization")).toBe("Bearer abc");
    expect(revokes[0].init.keepalive).toBe(true);
    // Closed once, revoked once.
    pc.close({ event: true });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fetch.revokes()).toHaveLength(2);
  });

  it("revokes on a silent pc.close() too, and reports a failed revocation without throwing", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch((call) =>
      call.init.method === "POST" ? json(404, { error: { code: "not_found", message: "no revoke here" } }) : json(200, okBody(10)),
    );
    const errors: IceServersError[] = [];
    keepFresh(pc, {
      fetch: fetch.fn,
      initial: initialAt(T0, 10, "rt-initial"),
      revokeOnClose: true,
      onError: (error) => errors.push(error as IceServersError),
    });
    pc.close();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fetch.revokes()).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(IceServersError);
    expect(errors[0]).toMatchObject({ code: "not_found", status: 404 });
  });

  it("does not revoke without revokeOnClose, nor when no token is known; stop({ revoke: true }) revokes", async () => {
    const fetch = fakeFetch((call) => (call.init.method === "POST" ? new Response(null, { status: 204 }) : json(200, okBody(10))));

    const plain = new FakePc();
    keepFresh(plain, { fetch: fetch.fn, initial: initialAt(T0, 10, "rt-a") });
    plain.close({ event: true });

    const tokenless = new FakePc();
    keepFresh(tokenless, { fetch: fetch.fn, initial: initialAt(T0, 10), revokeOnClose: true });
    tokenless.close({ event: true });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(fetch.revokes()).toHaveLength(0);

    const stopped = new FakePc();
    const stop = keepFresh(stopped, { fetch: fetch.fn, initial: initialAt(T0, 10, "rt-b") });
    await stop({ revoke: true });
    expect(fetch.revokes().map((call) => JSON.parse(String(call.init.body)))).toEqual([{ revokeToken: "rt-b" }]);
  });

  it("does nothing but revoke for a connection that is already closed", async () => {
    const pc = new FakePc();
    pc.close();
    const fetch = fakeFetch(() => new Response(null, { status: 204 }));
    await keepFresh(pc, { fetch: fetch.fn, initial: initialAt(T0, 10, "rt-x"), revokeOnClose: true })();
    expect(fetch.issues()).toHaveLength(0);
    expect(fetch.revokes()).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("refuses nonsensical options at once", () => {
    const pc = new FakePc();
    expect(() => keepFresh(pc, { refreshAt: 1.2 })).toThrow(RangeError);
    expect(() => keepFresh(pc, { jitter: -0.1 })).toThrow(RangeError);
    expect(() => keepFresh(pc, { minRetryMs: 0 })).toThrow(RangeError);
    expect(() => keepFresh(pc, { ttl: 0 })).toThrow(TypeError);
    expect(vi.getTimerCount()).toBe(0);
  });
});

/** The page's window and document, as event targets keepFresh listens on. */
function stubPage() {
  const win = new EventTarget();
  const doc = Object.assign(new EventTarget(), { visibilityState: "visible" });
  vi.stubGlobal("addEventListener", win.addEventListener.bind(win));
  vi.stubGlobal("removeEventListener", win.removeEventListener.bind(win));
  vi.stubGlobal("document", doc);
  return {
    fire: (type: "pagehide" | "pageshow" | "online", init: { persisted?: boolean } = {}) =>
      win.dispatchEvent(Object.assign(new Event(type), init)),
    visible: () => doc.dispatchEvent(new Event("visibilitychange")),
  };
}

const MAX_TIMER_MS = 2 ** 31 - 1;

describe("keepFresh timing", () => {
  it("does not loop on a huge ttl: believes at most 48 h, and refreshes at 80% of that", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch(() => json(200, okBody(3_000_000)));
    const stop = keepFresh(pc, { fetch: fetch.fn, random: () => 0.5, closeCheckMs: 3_600_000 });
    await vi.advanceTimersByTimeAsync(500);
    expect(fetch.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(0.8 * 172_800_000 - 501);
    expect(fetch.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([0, 0.8 * 172_800_000]);
    await stop();
  });

  it("re-arms a delay longer than a timer can wait (a Retry-After of 3,000,000 s) instead of firing at once", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch((_call, index) =>
      index === 0 ? json(429, { error: { code: "rate_limited", message: "later" } }, { "retry-after": "3000000" }) : json(200, okBody(600)),
    );
    const delays: (number | undefined)[] = [];
    const stop = keepFresh(pc, {
      fetch: fetch.fn,
      random: () => 0.5,
      closeCheckMs: MAX_TIMER_MS,
      onError: (_e, info) => delays.push(info.retryInMs),
    });
    await vi.advanceTimersByTimeAsync(86_400_000);
    expect(fetch.calls).toHaveLength(1);
    expect(delays).toEqual([3_000_000_000]);
    await vi.advanceTimersByTimeAsync(3_000_000_000 - 86_400_000);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([0, 3_000_000_000]);
    await stop();
  });

  it("honours a Retry-After longer than maxRetryMs", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch((_call, index) =>
      index === 0 ? json(429, { error: { code: "rate_limited", message: "later" } }, { "retry-after": "120" }) : json(200, okBody(600)),
    );
    const stop = keepFresh(pc, { fetch: fetch.fn, random: () => 0.5, maxRetryMs: 60_000 });
    await vi.advanceTimersByTimeAsync(200_000);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([0, 120_000]);
    await stop();
  });

  it("refreshes a very short ttl no more often than minRefreshMs (5 s), and warns once", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const pc = new FakePc();
      const fetch = fakeFetch();
      const stop = keepFresh(pc, { fetch: fetch.fn, ttl: 1, random: () => 0.5 });
      await vi.advanceTimersByTimeAsync(20_000);
      expect(fetch.calls.map((call) => since(call.at))).toEqual([0, 5_000, 10_000, 15_000, 20_000]);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toContain("minRefreshMs");
      await stop();

      const quick = new FakePc();
      const stopQuick = keepFresh(quick, { fetch: fetch.fn, ttl: 1, minRefreshMs: 0, random: () => 0.5 });
      await vi.advanceTimersByTimeAsync(1_600);
      expect(quick.applied).toHaveLength(3);
      await stopQuick();
    } finally {
      warn.mockRestore();
    }
  });

  it.each([
    ["visibilitychange", (page: ReturnType<typeof stubPage>) => page.visible()],
    ["pageshow", (page: ReturnType<typeof stubPage>) => page.fire("pageshow")],
    ["online", (page: ReturnType<typeof stubPage>) => page.fire("online")],
  ])("catches up on %s a refresh its timer slept through", async (_name, wake) => {
    const page = stubPage();
    const pc = new FakePc();
    const fetch = fakeFetch();
    const stop = keepFresh(pc, { fetch: fetch.fn, initial: initialAt(T0, 100), random: () => 0.5, closeCheckMs: 60_000 });
    await vi.advanceTimersByTimeAsync(10_000);
    // The device sleeps: the wall clock moves on, the timers do not.
    vi.setSystemTime(T0 + 95_000);
    expect(fetch.calls).toHaveLength(0);
    wake(page);
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([95_000]);
    expect(pc.applied).toHaveLength(1);
    // Caught up once: the slept timer does not fetch again.
    await vi.advanceTimersByTimeAsync(70_000);
    expect(fetch.calls).toHaveLength(1);
    await stop();
  });

  it("retries at once when the page comes back online, instead of waiting out the backoff", async () => {
    const page = stubPage();
    const pc = new FakePc();
    let offline = true;
    const fetch = fakeFetch(() => (offline ? Promise.reject(new TypeError("offline")) : json(200, okBody(100))));
    const stop = keepFresh(pc, { fetch: fetch.fn, random: () => 0.5 });
    await vi.advanceTimersByTimeAsync(3_500);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([0, 1_000, 3_000]);
    offline = false;
    page.fire("online");
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([0, 1_000, 3_000, 3_500]);
    expect(pc.applied).toHaveLength(1);
    await stop();
  });

  it("catches up in the close poll too", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch();
    const stop = keepFresh(pc, { fetch: fetch.fn, initial: initialAt(T0, 100), random: () => 0.5, closeCheckMs: 1_000 });
    vi.setSystemTime(T0 + 95_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([96_000]);
    await stop();
  });

  it("makes the last attempt at least timeoutMs + 1 s before a long lifetime expires", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch((_call, index) =>
      index === 0
        ? json(503, { error: { code: "upstream_unavailable", message: "later" } }, { "retry-after": "10000" })
        : json(200, okBody(3600)),
    );
    const stop = keepFresh(pc, { fetch: fetch.fn, initial: initialAt(T0, 3600), random: () => 0.5, timeoutMs: 10_000 });
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(fetch.calls.slice(0, 2).map((call) => since(call.at))).toEqual([2_880_000, 3_589_000]);
    await stop();
  });

  it("stops when its signal aborts, aborting a request in flight", async () => {
    const pc = new FakePc();
    const controller = new AbortController();
    const fetch = fakeFetch();
    const stop = keepFresh(pc, { fetch: fetch.fn, initial: initialAt(T0, 10), random: () => 0.5, signal: controller.signal });
    await vi.advanceTimersByTimeAsync(8_000);
    expect(fetch.calls).toHaveLength(1);
    controller.abort();
    await vi.advanceTimersByTimeAsync(1_000_000);
    expect(fetch.calls).toHaveLength(1);
    expect(pc.listenerCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    await stop();

    const never = fakeFetch();
    keepFresh(new FakePc(), { fetch: never.fn, signal: AbortSignal.abort() });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(never.calls).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("wraps an error thrown by the headers function as headers_failed, and retries", async () => {
    const cause = new Error("session expired");
    const fetch = fakeFetch();
    const error = await getIceServers({ fetch: fetch.fn, headers: () => Promise.reject(cause) }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IceServersError);
    expect(error).toMatchObject({ code: "headers_failed", status: 0, cause });
    expect(fetch.calls).toHaveLength(0);

    const pc = new FakePc();
    let calls = 0;
    const codes: string[] = [];
    const stop = keepFresh(pc, {
      fetch: fetch.fn,
      random: () => 0.5,
      headers: () => {
        if (++calls === 1) throw cause;
        return { authorization: "Bearer ok" };
      },
      onError: (e) => codes.push((e as IceServersError).code),
    });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(codes).toEqual(["headers_failed"]);
    expect(pc.applied).toHaveLength(1);
    await stop();
  });

  it("refuses nonsensical or unknown-valued options at once", () => {
    const pc = new FakePc();
    const bad: Record<string, unknown>[] = [
      { restartIce: "sometimes" },
      { timeoutMs: 0 },
      { closeCheckMs: 0 },
      { minRefreshMs: -1 },
      { maxRetryMs: 2 ** 31 },
      { minRetryMs: 10, maxRetryMs: 5 },
      { onError: "log" },
      { onRestart: 1 },
      { random: 0.5 },
      { signal: {} },
      { revokeOnClose: "yes" },
      { initial: { ttl: 10 } },
      { endpoint: 42 },
    ];
    for (const options of bad) expect(() => keepFresh(pc, options as never), JSON.stringify(options)).toThrow();
    expect(() => keepFresh({} as never)).toThrow(TypeError);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("keepFresh revocation", () => {
  it("revokes on pagehide before the handler returns, with headers resolved earlier", async () => {
    const page = stubPage();
    const pc = new FakePc();
    const fetch = fakeFetch((call) =>
      call.init.method === "POST" ? new Response(null, { status: 204 }) : json(200, okBody(100, { revokeToken: `rt-${minted + 1}` })),
    );
    const before = minted;
    let token = 0;
    keepFresh(pc, {
      fetch: fetch.fn,
      initial: initialAt(T0, 100, "rt-initial"),
      revokeOnClose: true,
      random: () => 0.5,
      headers: async () => ({ authorization: `Bearer t${++token}` }),
    });
    await vi.advanceTimersByTimeAsync(80_000);
    expect(fetch.issues()).toHaveLength(1);

    page.fire("pagehide");
    // No await: after pagehide, nothing queued is sure to run.
    const revokes = fetch.revokes();
    expect(revokes.map((call) => JSON.parse(String(call.init.body)).revokeToken)).toEqual(["rt-initial", `rt-${before + 1}`]);
    expect(revokes.every((call) => call.init.keepalive === true)).toBe(true);
    expect(new Headers(revokes[0].init.headers).get("authorization")).toBe(`Bearer t${token}`);
    // And it stopped: nothing more is fetched or revoked.
    pc.close({ event: true });
    await vi.advanceTimersByTimeAsync(1_000_000);
    expect(fetch.calls).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("on pagehide before any refresh, uses the headers resolved when it started", async () => {
    const page = stubPage();
    const fetch = fakeFetch(() => new Response(null, { status: 204 }));
    keepFresh(new FakePc(), {
      fetch: fetch.fn,
      initial: initialAt(T0, 100, "rt-initial"),
      revokeOnClose: true,
      headers: async () => ({ authorization: "Bearer early" }),
    });
    await vi.advanceTimersByTimeAsync(0);
    page.fire("pagehide");
    expect(fetch.revokes().map((call) => new Headers(call.init.headers).get("authorization"))).toEqual(["Bearer early"]);
  });

  it("does not revoke on pagehide without revokeOnClose", async () => {
    const page = stubPage();
    const fetch = fakeFetch(() => new Response(null, { status: 204 }));
    const stop = keepFresh(new FakePc(), { fetch: fetch.fn, initial: initialAt(T0, 100, "rt-initial") });
    page.fire("pagehide");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fetch.revokes()).toHaveLength(0);
    await stop();
  });

  it("skips tokens whose credentials have expired, and takes revoke_token_expired as done", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch((call) =>
      call.init.method === "POST"
        ? json(403, { error: { code: "revoke_token_expired", message: "expired" } })
        : json(200, okBody(10, { revokeToken: `rt-${minted + 1}` })),
    );
    const before = minted;
    const errors: unknown[] = [];
    keepFresh(pc, {
      fetch: fetch.fn,
      initial: initialAt(T0, 10, "rt-initial"),
      revokeOnClose: true,
      random: () => 0.5,
      minRefreshMs: 0,
      onError: (error) => errors.push(error),
    });
    // Refreshes at 8, 16, 24 s; at 30 s only the last (until 34 s) is alive.
    await vi.advanceTimersByTimeAsync(30_000);
    expect(fetch.issues()).toHaveLength(3);
    pc.close({ event: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch.revokes().map((call) => JSON.parse(String(call.init.body)).revokeToken)).toEqual([`rt-${before + 3}`]);
    expect(errors).toEqual([]);
  });
});

type StatsShape = "chrome" | "firefox" | "nominated";

/** A FakePc that can restart ICE and answers getStats() as each browser shapes it. */
class RestartablePc extends FakePc {
  restarts: { at: number; applied: number }[] = [];
  refuseRestart = false;
  private stats = new Map<string, Record<string, unknown>>();

  restartIce(): void {
    if (this.refuseRestart) throw new DOMException("no", "InvalidStateError");
    this.restarts.push({ at: Date.now(), applied: this.applied.length });
  }
  async getStats(): Promise<RTCStatsReport> {
    return this.stats as unknown as RTCStatsReport;
  }
  /** The selected pair's local candidate is `local`; a decoy pair with the other type is not selected. */
  select(shape: StatsShape, local: "relay" | "host"): this {
    // A relay-only connection selects relays only.
    this.configuration = { ...this.configuration, iceTransportPolicy: local === "relay" ? "relay" : "all" };
    const decoy = local === "relay" ? "host" : "relay";
    const add = (report: Record<string, unknown>) => this.stats.set(report.id as string, report);
    this.stats.clear();
    add({ id: "L1", type: "local-candidate", candidateType: local });
    add({ id: "L2", type: "local-candidate", candidateType: decoy });
    add({ id: "R1", type: "remote-candidate", candidateType: "relay" });
    if (shape === "chrome") {
      add({ id: "T1", type: "transport", selectedCandidatePairId: "CP1" });
      add({ id: "CP2", type: "candidate-pair", localCandidateId: "L2", remoteCandidateId: "R1", nominated: true, state: "succeeded" });
      add({ id: "CP1", type: "candidate-pair", localCandidateId: "L1", remoteCandidateId: "R1", nominated: true, state: "succeeded" });
    } else if (shape === "firefox") {
      add({
        id: "CP2",
        type: "candidate-pair",
        localCandidateId: "L2",
        remoteCandidateId: "R1",
        nominated: true,
        state: "succeeded",
        selected: false,
      });
      add({
        id: "CP1",
        type: "candidate-pair",
        localCandidateId: "L1",
        remoteCandidateId: "R1",
        nominated: true,
        state: "succeeded",
        selected: true,
      });
    } else {
      add({ id: "CP2", type: "candidate-pair", localCandidateId: "L2", remoteCandidateId: "R1", nominated: false, state: "in-progress" });
      add({ id: "CP1", type: "candidate-pair", localCandidateId: "L1", remoteCandidateId: "R1", nominated: true, state: "succeeded" });
    }
    return this;
  }
}

describe("keepFresh restartIce", () => {
  it.each([
    ["chrome", "relay", 1],
    ["chrome", "host", 0],
    ["firefox", "relay", 1],
    ["firefox", "host", 0],
    ["nominated", "relay", 1],
    ["nominated", "host", 0],
  ] as const)("relayed (the default), %s stats, local %s candidate: %s restart(s) per refresh", async (shape, local, perRefresh) => {
    const pc = new RestartablePc().select(shape, local);
    const fetch = fakeFetch();
    const heard: { username: string | undefined; mode: string }[] = [];
    const stop = keepFresh(pc, {
      fetch: fetch.fn,
      ttl: 100,
      initial: initialAt(T0, 100),
      random: () => 0.5,
      onRestart: ({ fresh, mode }) => heard.push({ username: fresh?.config.iceServers[1].username, mode }),
    });
    await vi.advanceTimersByTimeAsync(79_999);
    expect(pc.restarts).toEqual([]);
    await vi.advanceTimersByTimeAsync(1 + 80_000);
    expect(pc.applied).toHaveLength(2);
    // Each restart follows the servers it restarts for.
    expect(pc.restarts).toEqual(
      perRefresh
        ? [
            { at: T0 + 80_000, applied: 1 },
            { at: T0 + 160_000, applied: 2 },
          ]
        : [],
    );
    expect(heard).toEqual(
      perRefresh
        ? [
            { username: `user-${minted - 1}`, mode: "relayed" },
            { username: `user-${minted}`, mode: "relayed" },
          ]
        : [],
    );
    await stop();
  });

  it('always restarts with "always", and never with "never"', async () => {
    const fetch = fakeFetch();
    const always = new RestartablePc().select("chrome", "host");
    const never = new RestartablePc().select("chrome", "relay");
    const stops = [
      keepFresh(always, { fetch: fetch.fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5, restartIce: "always" }),
      keepFresh(never, { fetch: fetch.fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5, restartIce: "never" }),
    ];
    await vi.advanceTimersByTimeAsync(80_000);
    expect(always.restarts).toHaveLength(1);
    expect(never.restarts).toHaveLength(0);
    expect(never.applied).toHaveLength(1);
    for (const stop of stops) await stop();
  });

  it.each([
    ["connecting", "stable"],
    ["new", "stable"],
    ["connected", "have-local-offer"],
    ["connected", "have-remote-offer"],
  ] as const)(
    "does not restart while connectionState is %s and signalingState %s, but once connected and stable",
    async (connectionState, signalingState) => {
      const pc = new RestartablePc().select("chrome", "relay");
      pc.connectionState = connectionState;
      pc.signalingState = signalingState;
      const fetch = fakeFetch();
      const stop = keepFresh(pc, { fetch: fetch.fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5, closeCheckMs: 60_000 });
      await vi.advanceTimersByTimeAsync(85_000);
      expect(pc.applied).toHaveLength(1);
      expect(pc.restarts).toEqual([]);
      // The negotiation under way ends (or the connection comes back): the restart happens then, once.
      pc.connectionState = "connected";
      pc.signalingState = "stable";
      pc.fire();
      await vi.advanceTimersByTimeAsync(0);
      pc.fire();
      await vi.advanceTimersByTimeAsync(0);
      expect(pc.restarts).toEqual([{ at: T0 + 85_000, applied: 1 }]);
      await stop();
    },
  );

  it("restarts for the latest servers only once, however many refreshes waited", async () => {
    const pc = new RestartablePc().select("chrome", "relay");
    pc.signalingState = "have-local-offer";
    const fetch = fakeFetch();
    const stop = keepFresh(pc, { fetch: fetch.fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5, closeCheckMs: 1_000 });
    await vi.advanceTimersByTimeAsync(170_000);
    expect(pc.applied).toHaveLength(2);
    pc.signalingState = "stable";
    await vi.advanceTimersByTimeAsync(1_000);
    expect(pc.restarts).toEqual([{ at: T0 + 171_000, applied: 2 }]);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(pc.restarts).toHaveLength(1);
    await stop();
  });

  it("does not restart after a failed refresh, only once fresh servers were applied", async () => {
    const pc = new RestartablePc().select("chrome", "relay");
    const fetch = fakeFetch((_call, index) => (index < 2 ? Promise.reject(new TypeError("offline")) : json(200, okBody(100))));
    const stop = keepFresh(pc, { fetch: fetch.fn, initial: initialAt(T0, 100), random: () => 0.5 });
    await vi.advanceTimersByTimeAsync(81_000);
    expect(fetch.calls).toHaveLength(2);
    expect(pc.restarts).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(pc.restarts).toEqual([{ at: T0 + 83_000, applied: 1 }]);
    await stop();
  });

  it("reports a restart the browser refuses as restart_failed, and keeps refreshing", async () => {
    const pc = new RestartablePc().select("firefox", "relay");
    pc.refuseRestart = true;
    const fetch = fakeFetch();
    const errors: { code: string; retryInMs: number | undefined }[] = [];
    const restarted: unknown[] = [];
    const stop = keepFresh(pc, {
      fetch: fetch.fn,
      ttl: 100,
      initial: initialAt(T0, 100),
      random: () => 0.5,
      onError: (error, info) => errors.push({ code: (error as IceServersError).code, retryInMs: info.retryInMs }),
      onRestart: (info) => restarted.push(info),
    });
    await vi.advanceTimersByTimeAsync(160_000);
    expect(errors).toEqual([
      { code: "restart_failed", retryInMs: undefined },
      { code: "restart_failed", retryInMs: undefined },
    ]);
    expect(restarted).toEqual([]);
    expect(pc.applied).toHaveLength(2);
    await stop();
  });

  it("does not restart when getStats fails, or when the connection is not relayed", async () => {
    const pc = new RestartablePc();
    pc.configuration = { ...pc.configuration, iceTransportPolicy: "all" };
    pc.getStats = () => Promise.reject(new DOMException("closed", "InvalidStateError"));
    const fetch = fakeFetch();
    const errors: unknown[] = [];
    const stop = keepFresh(pc, {
      fetch: fetch.fn,
      ttl: 100,
      initial: initialAt(T0, 100),
      random: () => 0.5,
      onError: (e) => errors.push(e),
    });
    await vi.advanceTimersByTimeAsync(80_000);
    expect(pc.applied).toHaveLength(1);
    expect(pc.restarts).toEqual([]);
    expect(errors).toEqual([]);
    await stop();
  });
});

interface Candidate {
  type: "relay" | "host";
  address: string;
  port: number;
  /** Left out to play an engine whose stats do not give it (then the gathered address tells). */
  ufrag?: string;
}

/**
 * A peer connection with ICE generations: its local description's ufrag, the candidates it
 * gathers (icecandidate events), a selected pair whose local candidate the test chooses, and
 * negotiations the test plays out (an answered restart of the peer, or this side's own offer).
 */
class IcePc extends FakePc {
  ufrag = "u0";
  restarts: { at: number; applied: number }[] = [];
  private selected: Candidate = { type: "relay", address: "198.51.100.1", port: 50_000, ufrag: "u0" };

  get localDescription() {
    return { sdp: `v=0\r\na=ice-ufrag:${this.ufrag}\r\na=ice-pwd:x\r\n` };
  }
  restartIce(): void {
    this.restarts.push({ at: Date.now(), applied: this.applied.length });
  }
  /** The pair ICE selected now has `local` as its local candidate. */
  select(local: Candidate): this {
    this.selected = local;
    if (local.type !== "relay") this.configuration = { ...this.configuration, iceTransportPolicy: "all" };
    return this;
  }
  async getStats(): Promise<RTCStatsReport> {
    const local = {
      id: "L1",
      type: "local-candidate",
      candidateType: this.selected.type,
      address: this.selected.address,
      port: this.selected.port,
      ...(this.selected.ufrag ? { usernameFragment: this.selected.ufrag } : {}),
    };
    const reports = [
      local,
      { id: "R1", type: "remote-candidate", candidateType: "relay" },
      { id: "T1", type: "transport", selectedCandidatePairId: "CP1" },
      { id: "CP1", type: "candidate-pair", localCandidateId: "L1", remoteCandidateId: "R1", nominated: true, state: "succeeded" },
    ];
    return new Map(reports.map((report) => [report.id, report])) as unknown as RTCStatsReport;
  }
  /** A gathered candidate, as the icecandidate event gives it. */
  gather(candidate: Candidate): void {
    const event = Object.assign(new Event("icecandidate"), {
      candidate: { type: candidate.type, address: candidate.address, port: candidate.port, usernameFragment: candidate.ufrag ?? null },
    });
    for (const listener of this.listenersForTest()) listener(event);
  }
  /** A negotiation that ends with `ufrag` as this side's ufrag (an ICE restart, offered or answered). */
  negotiate(ufrag: string, { offered = false } = {}): void {
    this.signalingState = offered ? "have-local-offer" : "have-remote-offer";
    this.fire();
    this.ufrag = ufrag;
    this.signalingState = "stable";
    this.fire();
  }
}

/** Restart reasons heard through onRestart, and error codes through onError. */
function heard() {
  const restarts: string[] = [];
  const errors: { code: string; retryInMs: number | undefined }[] = [];
  return {
    restarts,
    errors,
    onRestart: (info: { reason: string }) => restarts.push(info.reason),
    onError: (error: unknown, info: { retryInMs: number | undefined }) =>
      errors.push({ code: (error as IceServersError).code, retryInMs: info.retryInMs }),
  };
}

/**
 * keepFresh on `pc` (connecting, so its refresh at 80 s waits), then the peer's ICE restart
 * arrives and this side answers it with ufrag u1 and connects.
 */
async function answerAfterRefresh(pc: IcePc) {
  pc.connectionState = "connecting";
  const log = heard();
  const stop = keepFresh(pc, { fetch: fakeFetch().fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5, ...log });
  await vi.advanceTimersByTimeAsync(80_000);
  expect(pc.applied).toHaveLength(1);
  pc.negotiate("u1");
  pc.connectionState = "connected";
  pc.fire();
  return { log, stop };
}

describe("keepFresh: each side checks its own ICE generation", () => {
  it("does not restart a second time when answering the peer's restart re-gathered this side under the fresh servers", async () => {
    // The peer's restart arrives after the fresh servers were applied: this side answers with
    // new relays, and ICE selects one of them.
    const pc = new IcePc().select({ type: "relay", address: "198.51.100.1", port: 50_002, ufrag: "u1" });
    const { log, stop } = await answerAfterRefresh(pc);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(pc.restarts).toEqual([]);
    expect(log.restarts).toEqual([]);
    expect(log.errors).toEqual([]);
    await stop();
  });

  it("restarts as the offerer when an answered restart left this side on the previous generation's relay, a bounded number of times, then reports restart_incomplete", async () => {
    const pc = new IcePc();
    const { log, stop } = await answerAfterRefresh(pc);
    // Still on the u0 relay (libwebrtc keeps the old generation's pair): checked after verifyAfterMs.
    await vi.advanceTimersByTimeAsync(1_999);
    expect(pc.restarts).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(log.restarts).toEqual(["stale_generation"]);
    // Its own offer, and still stale: once more (maxStaleRestarts 2), then it gives up and says so.
    pc.negotiate("u2", { offered: true });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(log.restarts).toEqual(["stale_generation", "stale_generation"]);
    pc.negotiate("u3", { offered: true });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(log.restarts).toEqual(["stale_generation", "stale_generation"]);
    expect(log.errors).toEqual([{ code: "restart_incomplete", retryInMs: undefined }]);
    await stop();
  });

  it("checks its own refresh restart too, by the gathered relay address where the stats give no ufrag", async () => {
    const pc = new IcePc();
    // Gathered before keepFresh started watching: only the later generations' relays are known.
    pc.select({ type: "relay", address: "198.51.100.1", port: 50_000 });
    const fetch = fakeFetch();
    const log = heard();
    const stop = keepFresh(pc, { fetch: fetch.fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5, ...log });
    await vi.advanceTimersByTimeAsync(80_000);
    expect(log.restarts).toEqual(["refresh"]);
    pc.negotiate("u1", { offered: true });
    pc.gather({ type: "relay", address: "198.51.100.1", port: 50_002, ufrag: "u1" });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(log.restarts).toEqual(["refresh", "stale_generation"]);
    // The next generation's relay is selected: no more restarts.
    pc.negotiate("u2", { offered: true });
    pc.gather({ type: "relay", address: "198.51.100.1", port: 50_004, ufrag: "u2" });
    pc.select({ type: "relay", address: "198.51.100.1", port: 50_004 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(log.restarts).toEqual(["refresh", "stale_generation"]);
    expect(log.errors).toEqual([]);
    await stop();
  });

  it("counts the stale restarts per refresh, not per call", async () => {
    const pc = new IcePc();
    const fetch = fakeFetch();
    const log = heard();
    const stop = keepFresh(pc, { fetch: fetch.fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5, maxStaleRestarts: 1, ...log });
    await vi.advanceTimersByTimeAsync(80_000);
    pc.negotiate("u1", { offered: true });
    await vi.advanceTimersByTimeAsync(2_000);
    pc.negotiate("u2", { offered: true });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(log.restarts).toEqual(["refresh", "stale_generation"]);
    expect(log.errors.map((error) => error.code)).toEqual(["restart_incomplete"]);
    // The next refresh has a budget of its own.
    await vi.advanceTimersByTimeAsync(76_000);
    expect(log.restarts).toEqual(["refresh", "stale_generation", "refresh"]);
    pc.negotiate("u3", { offered: true });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(log.restarts).toEqual(["refresh", "stale_generation", "refresh", "stale_generation"]);
    await stop();
  });

  it("leaves a host-to-host call alone in relayed mode, whatever its generation", async () => {
    const pc = new IcePc().select({ type: "host", address: "192.0.2.1", port: 40_000, ufrag: "u0" });
    const { log, stop } = await answerAfterRefresh(pc);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(log.restarts).toEqual([]);
    await stop();
  });
});

describe("keepFresh: recovery from failed ICE", () => {
  it("restarts at once when ICE fails, with the servers it has while they are fresh", async () => {
    const pc = new IcePc();
    const fetch = fakeFetch();
    const log = heard();
    const stop = keepFresh(pc, { fetch: fetch.fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5, ...log });
    await vi.advanceTimersByTimeAsync(10_000);
    pc.connectionState = "failed";
    pc.fire();
    expect(log.restarts).toEqual(["failed"]);
    expect(fetch.calls).toHaveLength(0);
    // Back: no further attempt.
    pc.negotiate("u1", { offered: true });
    pc.select({ type: "relay", address: "198.51.100.1", port: 50_002, ufrag: "u1" });
    pc.connectionState = "connected";
    pc.fire();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(log.restarts).toEqual(["failed"]);
    expect(log.errors).toEqual([]);
    await stop();
  });

  it("restarts when ICE stays disconnected past disconnectedGraceMs (2 s), not when it comes back in time", async () => {
    const pc = new IcePc();
    const fetch = fakeFetch();
    const log = heard();
    const stop = keepFresh(pc, { fetch: fetch.fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5, ...log });
    pc.connectionState = "disconnected";
    pc.fire();
    await vi.advanceTimersByTimeAsync(1_500);
    pc.connectionState = "connected";
    pc.fire();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(log.restarts).toEqual([]);
    pc.connectionState = "disconnected";
    pc.fire();
    await vi.advanceTimersByTimeAsync(1_999);
    expect(log.restarts).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(log.restarts).toEqual(["disconnected"]);
    await stop();
  });

  it("fetches fresh servers first when the current ones are near expiry, then restarts under them", async () => {
    const pc = new IcePc();
    let offline = true;
    const fetch = fakeFetch(() => (offline ? Promise.reject(new TypeError("offline")) : json(200, okBody(100))));
    const log = heard();
    const stop = keepFresh(pc, { fetch: fetch.fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5, ...log });
    // 80 s fails, and its retries (81, 83, 87, 90 s).
    await vi.advanceTimersByTimeAsync(94_000);
    expect(fetch.calls).toHaveLength(5);
    offline = false;
    pc.connectionState = "failed";
    pc.fire();
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch.calls.map((call) => since(call.at)).at(-1)).toBe(94_000);
    expect(pc.restarts).toEqual([{ at: T0 + 94_000, applied: 1 }]);
    expect(log.restarts).toEqual(["failed"]);
    await stop();
  });

  it("restarts with the servers it has when the fetch for a recovery fails", async () => {
    const pc = new IcePc();
    const fetch = fakeFetch(() => Promise.reject(new TypeError("offline")));
    const log = heard();
    const stop = keepFresh(pc, { fetch: fetch.fn, ttl: 100, initial: initialAt(T0 - 85_000, 100), random: () => 0.5, ...log });
    await vi.advanceTimersByTimeAsync(0);
    pc.connectionState = "failed";
    pc.fire();
    await vi.advanceTimersByTimeAsync(0);
    expect(log.restarts).toEqual(["failed"]);
    await stop();
  });

  it("gives up after maxRecoveries restarts with growing waits, and reports recovery_failed", async () => {
    const pc = new IcePc();
    const fetch = fakeFetch();
    const log = heard();
    const stop = keepFresh(pc, { fetch: fetch.fn, ttl: 86_400, initial: initialAt(T0, 86_400), random: () => 0.5, ...log });
    pc.connectionState = "failed";
    pc.fire();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(pc.restarts.map((restart) => since(restart.at))).toEqual([0, 5_000, 15_000, 35_000, 75_000]);
    expect(log.errors).toEqual([{ code: "recovery_failed", retryInMs: undefined }]);
    await stop();
  });

  it('does not restart with restartIce "never"', async () => {
    const pc = new IcePc();
    const log = heard();
    const stop = keepFresh(pc, { fetch: fakeFetch().fn, initial: initialAt(T0, 100), restartIce: "never", ...log });
    pc.connectionState = "failed";
    pc.fire();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(pc.restarts).toEqual([]);
    await stop();
  });
});

describe("keepFresh: never a worse answer", () => {
  it("keeps the TURN servers of a relay-only call when the answer is degraded, reports worse_answer, and retries with backoff", async () => {
    const pc = new IcePc();
    const fetch = fakeFetch((_call, index) =>
      index < 2
        ? json(200, { ...okBody(100), iceServers: [{ urls: "stun:stun.example.test" }], provider: "none", degraded: true })
        : json(200, okBody(100)),
    );
    const log = heard();
    const stop = keepFresh(pc, { fetch: fetch.fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5, ...log });
    await vi.advanceTimersByTimeAsync(81_000);
    expect(pc.applied).toHaveLength(0);
    expect(log.restarts).toEqual([]);
    expect(log.errors).toEqual([
      { code: "worse_answer", retryInMs: 1_000 },
      { code: "worse_answer", retryInMs: 2_000 },
    ]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([80_000, 81_000, 83_000]);
    expect(pc.applied).toHaveLength(1);
    expect(log.restarts).toEqual(["refresh"]);
    await stop();
  });

  it("keeps TURN for a relayed call when an answer has no TURN URL, but applies it to a call that does not use TURN", async () => {
    const stunOnly = () => json(200, { ...okBody(100), iceServers: [{ urls: "stun:stun.example.test" }] });
    const relayed = new IcePc();
    relayed.configuration = { ...relayed.configuration, iceTransportPolicy: "all" };
    const direct = new IcePc().select({ type: "host", address: "192.0.2.1", port: 40_000, ufrag: "u0" });
    direct.configuration = { ...direct.configuration, iceTransportPolicy: "all" };
    const codes: string[] = [];
    const options = { fetch: fakeFetch(stunOnly).fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5 };
    const stops = [
      keepFresh(relayed, { ...options, onError: (error) => codes.push((error as IceServersError).code) }),
      keepFresh(direct, options),
    ];
    await vi.advanceTimersByTimeAsync(80_000);
    expect(relayed.applied).toHaveLength(0);
    expect(codes).toEqual(["worse_answer"]);
    expect(direct.applied).toHaveLength(1);
    for (const stop of stops) await stop();
  });
});

describe("keepFresh: errors by kind", () => {
  it("asks again no sooner than refusedRetryMs (10 min) after a client error such as 403 origin_not_allowed", async () => {
    const pc = new FakePc();
    const fetch = fakeFetch(() => json(403, { error: { code: "origin_not_allowed", message: "not from here" } }));
    const log = heard();
    const stop = keepFresh(pc, { fetch: fetch.fn, random: () => 0.5, closeCheckMs: 60_000, ...log });
    await vi.advanceTimersByTimeAsync(24 * 3_600_000);
    expect(fetch.calls.length).toBeLessThanOrEqual(24 * 6 + 1);
    expect(log.errors[0]).toEqual({ code: "origin_not_allowed", retryInMs: 600_000 });
    await stop();
  });

  it.each([
    [400, "invalid_ttl", false, 600_000],
    [401, "unauthorized", false, 600_000],
    [401, "unauthorized", true, 1_000],
    [408, "http_error", false, 1_000],
    [429, "rate_limited", false, 1_000],
    [500, "internal_error", false, 1_000],
    [504, "upstream_timeout", false, 1_000],
  ])("HTTP %s (%s), headers from a function: %s → next try in %s ms", async (status, code, fromFunction, retryInMs) => {
    const fetch = fakeFetch(() => json(status, { error: { code, message: "no" } }));
    const log = heard();
    const headers = { authorization: "Bearer t" };
    const stop = keepFresh(new FakePc(), {
      fetch: fetch.fn,
      random: () => 0.5,
      headers: fromFunction ? () => headers : headers,
      ...log,
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(log.errors).toEqual([{ code, retryInMs }]);
    await stop();
  });

  it("does not let the online event skip the server's Retry-After", async () => {
    const page = stubPage();
    const fetch = fakeFetch((_call, index) =>
      index === 0
        ? json(503, { error: { code: "upstream_unavailable", message: "later" } }, { "retry-after": "30" })
        : json(200, okBody(600)),
    );
    const stop = keepFresh(new FakePc(), { fetch: fetch.fn, random: () => 0.5 });
    await vi.advanceTimersByTimeAsync(5_000);
    page.fire("online");
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([0]);
    await vi.advanceTimersByTimeAsync(25_000);
    expect(fetch.calls.map((call) => since(call.at))).toEqual([0, 30_000]);
    await stop();
  });

  it("stops on a refusal that the same servers would meet again, without fetching more", async () => {
    const pc = new FakePc();
    pc.refuse = "InvalidModificationError";
    const fetch = fakeFetch();
    const log = heard();
    keepFresh(pc, { fetch: fetch.fn, ttl: 100, random: () => 0.5, ...log });
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(fetch.calls).toHaveLength(1);
    expect(log.errors).toEqual([{ code: "apply_failed", retryInMs: undefined }]);
    expect(vi.getTimerCount()).toBe(0);
    expect(pc.listenerCount).toBe(0);
  });

  it("retries applying a refused answer until it expires, then takes the next refresh's", async () => {
    const pc = new FakePc();
    pc.refuse = "OperationError";
    const fetch = fakeFetch();
    const stop = keepFresh(pc, { fetch: fetch.fn, ttl: 100, random: () => 0.5, closeCheckMs: 60_000 });
    await vi.advanceTimersByTimeAsync(3_600_000);
    // One answer per refresh (every 80 s), never one per retry.
    expect(fetch.calls.length).toBeLessThanOrEqual(46);
    await stop();
  });
});

describe("keepFresh: browsers", () => {
  it("reads iceConnectionState where connectionState is missing (Firefox before 113)", async () => {
    const pc = new IcePc();
    (pc as { connectionState?: RTCPeerConnectionState }).connectionState = undefined;
    const ice = pc as unknown as { iceConnectionState: RTCIceConnectionState };
    ice.iceConnectionState = "completed";
    const log = heard();
    const stop = keepFresh(pc, { fetch: fakeFetch().fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5, ...log });
    await vi.advanceTimersByTimeAsync(80_000);
    expect(log.restarts).toEqual(["refresh"]);
    ice.iceConnectionState = "failed";
    pc.fire();
    expect(log.restarts).toEqual(["refresh", "failed"]);
    ice.iceConnectionState = "closed";
    pc.fire();
    expect(pc.listenerCount).toBe(0);
    await stop();
  });

  it("neither revokes nor stops on a pagehide into the back/forward cache (persisted)", async () => {
    const page = stubPage();
    const pc = new FakePc();
    const fetch = fakeFetch((call) => (call.init.method === "POST" ? new Response(null, { status: 204 }) : json(200, okBody(100))));
    const stop = keepFresh(pc, { fetch: fetch.fn, initial: initialAt(T0, 100, "rt-initial"), revokeOnClose: true, random: () => 0.5 });
    page.fire("pagehide", { persisted: true });
    await vi.advanceTimersByTimeAsync(80_000);
    expect(fetch.revokes()).toHaveLength(0);
    expect(fetch.issues()).toHaveLength(1);
    expect(pc.applied).toHaveLength(1);
    await stop();
  });
});

describe("createIceSource", () => {
  it("fetches once per period for several connections, and revokes when the last one closes", async () => {
    const fetch = fakeFetch((call) =>
      call.init.method === "POST" ? new Response(null, { status: 204 }) : json(200, okBody(100, { revokeToken: `rt-${minted + 1}` })),
    );
    const refreshed: IceServers[] = [];
    const source = createIceSource({
      fetch: fetch.fn,
      ttl: 100,
      revokeOnClose: true,
      random: () => 0.5,
      onRefresh: (r) => refreshed.push(r),
    });
    const pending = source.servers();
    await vi.advanceTimersByTimeAsync(0);
    const first = await pending;
    expect(fetch.issues()).toHaveLength(1);
    const send = new IcePc();
    const receive = new IcePc();
    const extra = new FakePc();
    source.attach(send);
    source.attach(receive);
    const detach = source.attach(extra);
    detach();
    await vi.advanceTimersByTimeAsync(80_000);
    expect(fetch.issues()).toHaveLength(2);
    expect(send.applied).toHaveLength(1);
    expect(receive.applied).toHaveLength(1);
    expect(extra.applied).toHaveLength(0);
    expect(send.usernames()).toEqual(receive.usernames());
    expect(source.current).toBe(refreshed.at(-1));
    expect(source.current).not.toBe(first);

    send.close({ event: true });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fetch.revokes()).toHaveLength(0);
    receive.close({ event: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch.revokes()).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
    await expect(createIceSource({ signal: AbortSignal.abort() }).servers()).rejects.toMatchObject({ code: "aborted" });
  });

  it("restarts each attached connection for itself", async () => {
    const source = createIceSource({ fetch: fakeFetch().fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5 });
    const relayed = new IcePc();
    const direct = new IcePc().select({ type: "host", address: "192.0.2.1", port: 40_000, ufrag: "u0" });
    source.attach(relayed);
    source.attach(direct);
    await vi.advanceTimersByTimeAsync(80_000);
    expect(relayed.restarts).toHaveLength(1);
    expect(direct.restarts).toHaveLength(0);
    await source.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("keepFresh: relayed or not", () => {
  it("restarts a relay-only connection without asking getStats, which can show no selected pair just after a restart (Firefox)", async () => {
    const pc = new IcePc();
    pc.getStats = async () => new Map() as unknown as RTCStatsReport;
    const log = heard();
    const stop = keepFresh(pc, { fetch: fakeFetch().fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5, ...log });
    await vi.advanceTimersByTimeAsync(80_000);
    expect(log.restarts).toEqual(["refresh"]);
    await stop();
  });

  it("asks again on the next poll when no pair is selected yet, instead of dropping the refresh's restart", async () => {
    const pc = new IcePc();
    pc.configuration = { ...pc.configuration, iceTransportPolicy: "all" };
    const real = pc.getStats.bind(pc);
    pc.getStats = async () => new Map() as unknown as RTCStatsReport;
    const log = heard();
    const stop = keepFresh(pc, { fetch: fakeFetch().fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5, ...log });
    await vi.advanceTimersByTimeAsync(80_500);
    expect(log.restarts).toEqual([]);
    pc.getStats = real;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(log.restarts).toEqual(["refresh"]);
    await stop();
  });
});

describe("keepFresh: the first negotiation", () => {
  it("does not restart for servers applied before the call's first negotiation gathered under them", async () => {
    const pc = new IcePc();
    pc.connectionState = "new";
    // Not negotiated yet: no local description.
    Object.defineProperty(pc, "localDescription", { value: null, configurable: true });
    const log = heard();
    const stop = keepFresh(pc, { fetch: fakeFetch().fn, ttl: 100, random: () => 0.5, ...log });
    await vi.advanceTimersByTimeAsync(0);
    expect(pc.applied).toHaveLength(1);
    Object.defineProperty(pc, "localDescription", { get: () => ({ sdp: `a=ice-ufrag:${pc.ufrag}\r\n` }), configurable: true });
    pc.negotiate("u0", { offered: true });
    pc.connectionState = "connected";
    pc.fire();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(log.restarts).toEqual([]);
    await stop();
  });
});

describe("keepFresh: a restart waits for the previous one's gathering", () => {
  it("does not restart while this side still gathers the generation it just answered, nor within 1 s of it (Firefox fails ICE when it is cut short)", async () => {
    const pc = new IcePc() as IcePc & { iceGatheringState: RTCIceGatheringState };
    pc.iceGatheringState = "complete";
    const log = heard();
    const stop = keepFresh(pc, { fetch: fakeFetch().fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5, ...log });
    await vi.advanceTimersByTimeAsync(79_900);
    // The peer's restart, answered just before this side's refresh: still gathering when it lands.
    pc.negotiate("u1");
    pc.iceGatheringState = "gathering";
    await vi.advanceTimersByTimeAsync(300);
    expect(pc.applied).toHaveLength(1);
    expect(log.restarts).toEqual([]);
    pc.iceGatheringState = "complete";
    pc.fire();
    await vi.advanceTimersByTimeAsync(0);
    // And no sooner than 1 s after that negotiation began, so that its new generation can connect.
    expect(log.restarts).toEqual([]);
    await vi.advanceTimersByTimeAsync(700);
    expect(log.restarts).toEqual(["refresh"]);
    // A failure during a gathering waits for it too, but no longer than 5 s.
    pc.negotiate("u2", { offered: true });
    pc.iceGatheringState = "gathering";
    pc.connectionState = "failed";
    pc.fire();
    await vi.advanceTimersByTimeAsync(4_000);
    expect(log.restarts).toEqual(["refresh"]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(log.restarts).toEqual(["refresh", "failed"]);
    await stop();
  });
});

describe("keepFresh: the generation check without a selected pair", () => {
  it("looks again later when no pair is selected yet, instead of taking the side as current", async () => {
    const pc = new IcePc();
    const real = pc.getStats.bind(pc);
    const log = heard();
    const stop = keepFresh(pc, { fetch: fakeFetch().fn, ttl: 100, initial: initialAt(T0, 100), random: () => 0.5, ...log });
    await vi.advanceTimersByTimeAsync(80_000);
    pc.getStats = async () => new Map() as unknown as RTCStatsReport;
    pc.negotiate("u1", { offered: true });
    await vi.advanceTimersByTimeAsync(4_000);
    expect(log.restarts).toEqual(["refresh"]);
    // Selected at last, on the old generation's relay.
    pc.getStats = real;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(log.restarts).toEqual(["refresh", "stale_generation"]);
    await stop();
  });
});
