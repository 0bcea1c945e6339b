import { afterEach, describe, expect, it, vi } from "vitest";
import {
  checkRateLimit,
  configureRateLimit,
  FIXED_WINDOW_SCRIPT,
  KEY_PREFIX,
  memoryStore,
  prepareUpstashHit,
  processUpstashHit,
  type RateLimitStore,
} from "../../shared/rate-limit.ts";
import { rejectionOf } from "../helpers/service-error.ts";

afterEach(() => {
  vi.useRealTimers();
});

const quiet = { warn: () => {} };
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
    const both = configureRateLimit({ REDIS_URL: "redis://:pw@127.0.0.1:6379", UPSTASH_REDIS_REST_URL: "https://u.example", UPSTASH_REDIS_REST_TOKEN: "t" });
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

  it("stays bounded in keys", async () => {
    const store = memoryStore(100);
    for (let i = 0; i < 1000; i += 1) await store.hit(`key-${i}`, 60_000);
    // The oldest were forgotten, so the first key starts over.
    expect((await store.hit("key-0", 60_000)).count).toBe(1);
    expect((await store.hit("key-999", 60_000)).count).toBe(2);
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
    const pending = rejectionOf(checkRateLimit("ip:1", config({ RATE_LIMIT_FAIL: "closed", RATE_LIMIT_TIMEOUT_MS: "100" }), hanging, quiet));
    await vi.advanceTimersByTimeAsync(100);
    const error = await pending;
    expect(error.status).toBe(503);
    expect(error.code).toBe("rate_limit_unavailable");
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
    expect(processUpstashHit({ status: 200, headers: new Headers(), body: '{"result":[4,51234]}' })).toEqual({ count: 4, resetInMs: 51234 });
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
