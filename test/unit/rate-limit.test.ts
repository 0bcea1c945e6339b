import { afterEach, describe, expect, it, vi } from "vitest";
import {
  checkRateLimit,
  configureRateLimit,
  FIXED_WINDOW_SCRIPT,
  KEY_PREFIX,
  memoryStore,
  prepareUpstashHit,
  processUpstashHit,
  RateLimitTableFull,
  type RateLimitStore,
} from "../../shared/rate-limit/limiter.ts";
import { quietLog } from "../helpers/log.ts";
import { rejectionOf, thrownBy } from "../helpers/service-error.ts";

afterEach(() => {
  vi.useRealTimers();
});

const quiet = quietLog();
const config = (extra: Record<string, string> = {}) => {
  const parsed = configureRateLimit({ RATE_LIMIT: "3/10s", ...extra });
  return { ...parsed, rule: parsed.rule! };
};

describe("RATE_LIMIT", () => {
  it.each([
    ["20/60s", { limit: 20, windowMs: 60_000 }],
    ["100 / 1m", { limit: 100, windowMs: 60_000 }],
    ["5/2h", { limit: 5, windowMs: 7_200_000 }],
    ["7/30", { limit: 7, windowMs: 30_000 }],
  ])("reads %s", (text, rule) => {
    expect(configureRateLimit({ RATE_LIMIT: text }).rule).toEqual(rule);
  });

  it("defaults to 60 per minute, in memory, failing open", () => {
    expect(configureRateLimit({})).toMatchObject({ rule: { limit: 60, windowMs: 60_000 }, failOpen: true, store: { kind: "memory" } });
  });

  it("can be switched off", () => {
    expect(configureRateLimit({ RATE_LIMIT: "off" }).rule).toBeUndefined();
  });

  it.each(["0/60s", "10/0s", "ten per minute", "10/500ms", "10/60d"])("refuses %s", (text) => {
    expect(() => configureRateLimit({ RATE_LIMIT: text })).toThrow("RATE_LIMIT must read like 20/60s");
  });

  it("picks Redis over TCP when REDIS_URL is set, keeping Upstash for runtimes without sockets", () => {
    const both = configureRateLimit({
      REDIS_URL: "redis://:pw@127.0.0.1:6379",
      UPSTASH_REDIS_REST_URL: "https://u.example",
      UPSTASH_REDIS_REST_TOKEN: "t",
    });
    expect(both.store).toEqual({ kind: "redis", url: "redis://:pw@127.0.0.1:6379" });
    expect(both.fallbackStore).toEqual({ kind: "upstash", url: "https://u.example", token: "t" });
    expect(configureRateLimit({ UPSTASH_REDIS_REST_URL: "https://u.example", UPSTASH_REDIS_REST_TOKEN: "t" }).store.kind).toBe("upstash");
  });

  it.each([
    [{ REDIS_URL: "http://127.0.0.1:6379" }, "REDIS_URL must start with redis://"],
    [{ UPSTASH_REDIS_REST_URL: "https://u.example" }, "UPSTASH_REDIS_REST_TOKEN is not set"],
    [{ RATE_LIMIT_FAIL: "maybe" }, "RATE_LIMIT_FAIL must be open or closed"],
  ])("refuses %j", (env, message) => {
    expect(() => configureRateLimit(env)).toThrow(message);
  });
});

describe("memoryStore", () => {
  it("counts per key in fixed windows", async () => {
    vi.useFakeTimers();
    const store = memoryStore();
    expect(await store.hit("a", 1000)).toEqual({ count: 1, resetInMs: 1000 });
    vi.advanceTimersByTime(400);
    expect(await store.hit("a", 1000)).toEqual({ count: 2, resetInMs: 600 });
    expect(await store.hit("b", 1000)).toEqual({ count: 1, resetInMs: 1000 });
    vi.advanceTimersByTime(600);
    expect(await store.hit("a", 1000)).toEqual({ count: 1, resetInMs: 1000 });
  });

  it("stays bounded in keys without forgetting a live window: a new key finds the table full", async () => {
    vi.useFakeTimers();
    const store = memoryStore(100);
    for (let i = 0; i < 100; i += 1) store.hit(`key-${i}`, 60_000);
    for (let i = 0; i < 1000; i += 1) {
      expect(() => store.hit(`flood-${i}`, 60_000)).toThrow(RateLimitTableFull);
    }
    // The first window outlived the flood: its count goes on.
    expect(await store.hit("key-0", 60_000)).toEqual({ count: 2, resetInMs: 60_000 });
    expect((await store.hit("key-99", 60_000)).count).toBe(2);
    // Once windows end, new keys take their places.
    vi.advanceTimersByTime(60_000);
    for (let i = 0; i < 100; i += 1) expect(await store.hit(`next-${i}`, 60_000)).toEqual({ count: 1, resetInMs: 60_000 });
    expect(() => store.hit("one-too-many", 60_000)).toThrow(RateLimitTableFull);
  });

  it("reports a full table at most once a minute", () => {
    vi.useFakeTimers();
    const store = memoryStore(1);
    store.hit("a", 3_600_000);
    const reports = () => thrownBy(() => store.hit(`new-${Math.random()}`, 3_600_000), RateLimitTableFull).report;
    expect(reports()).toBe(true);
    expect(reports()).toBe(false);
    vi.advanceTimersByTime(59_000);
    expect(reports()).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(reports()).toBe(true);
  });
});

describe("checkRateLimit", () => {
  it("lets the allowance through with RateLimit headers, then answers 429 with Retry-After", async () => {
    const store = memoryStore();
    const rule = config();
    for (const remaining of ["2", "1", "0"]) {
      const { headers } = await checkRateLimit("ip:1", rule, store, quiet);
      expect(headers).toMatchObject({ "ratelimit-limit": "3", "ratelimit-remaining": remaining, "ratelimit-reset": "10" });
    }
    const error = await rejectionOf(checkRateLimit("ip:1", rule, store, quiet));
    expect(error.status).toBe(429);
    expect(error.code).toBe("rate_limited");
    expect(error.headers).toMatchObject({ "retry-after": "10", "ratelimit-remaining": "0" });
    // Another client has its own allowance.
    await expect(checkRateLimit("ip:2", rule, store, quiet)).resolves.toMatchObject({ headers: { "ratelimit-remaining": "2" } });
  });

  const hanging: RateLimitStore = { hit: () => new Promise(() => {}) };
  const broken: RateLimitStore = { hit: async () => Promise.reject(new Error("redis://:password@host refused")) };

  it("fails open, within the time bound, and logs only the kind of failure", async () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const pending = checkRateLimit("ip:1", config({ RATE_LIMIT_TIMEOUT_MS: "250" }), hanging, { warn: (line) => lines.push(line) });
    await vi.advanceTimersByTimeAsync(250);
    expect(await pending).toEqual({ headers: {} });
    expect(vi.getTimerCount()).toBe(0);

    await checkRateLimit("ip:1", config(), broken, { warn: (line) => lines.push(line) });
    expect(lines).toHaveLength(2);
    expect(lines.join("\n")).toContain("RATE_LIMIT_FAIL=open");
    expect(lines.join("\n")).not.toContain("password");
  });

  it("fails closed with 503 rate_limit_unavailable when asked to", async () => {
    vi.useFakeTimers();
    const pending = rejectionOf(
      checkRateLimit("ip:1", config({ RATE_LIMIT_FAIL: "closed", RATE_LIMIT_TIMEOUT_MS: "100" }), hanging, quiet),
    );
    await vi.advanceTimersByTimeAsync(100);
    const error = await pending;
    expect(error.status).toBe(503);
    expect(error.code).toBe("rate_limit_unavailable");
  });

  it("answers a new caller by RATE_LIMIT_FAIL while the memory table is full, logging it once", async () => {
    vi.useFakeTimers();
    const store = memoryStore(2);
    const lines: string[] = [];
    const log = { warn: (line: string) => lines.push(line) };
    await checkRateLimit("ip:1", config(), store, log);
    await checkRateLimit("ip:2", config(), store, log);
    for (let i = 3; i < 10; i += 1) expect(await checkRateLimit(`ip:${i}`, config(), store, log)).toEqual({ headers: {} });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("RATE_LIMIT_FAIL=open");
    const error = await rejectionOf(checkRateLimit("ip:10", config({ RATE_LIMIT_FAIL: "closed" }), store, log));
    expect([error.status, error.code]).toEqual([503, "rate_limit_unavailable"]);
    // Callers already counted keep their windows, full table or not.
    await expect(checkRateLimit("ip:1", config(), store, log)).resolves.toMatchObject({ headers: { "ratelimit-remaining": "1" } });
  });
});

describe("Upstash REST protocol", () => {
  it("sends the fixed-window script as one EVAL command with the bearer token", async () => {
    const request = prepareUpstashHit("https://eu1-x.upstash.io", "tok", "ip:203.0.113.9", 60_000);
    expect(request.method).toBe("POST");
    expect(request.url).toBe("https://eu1-x.upstash.io");
    expect(request.headers.authorization).toBe("Bearer tok");
    expect(JSON.parse(request.body!)).toEqual(["EVAL", FIXED_WINDOW_SCRIPT, "1", `${KEY_PREFIX}ip:203.0.113.9`, "60000"]);
  });

  it("reads {result: [count, pttl]}", () => {
    expect(processUpstashHit({ status: 200, headers: new Headers(), body: '{"result":[4,51234]}' })).toEqual({
      count: 4,
      resetInMs: 51234,
    });
  });

  it.each([
    [401, '{"error":"Unauthorized"}'],
    [400, '{"error":"ERR unknown command"}'],
    [200, "not json"],
    [200, '{"result":"OK"}'],
  ])("treats HTTP %i %s as a store failure", (status, body) => {
    expect(() => processUpstashHit({ status, headers: new Headers(), body })).toThrow();
  });
});
