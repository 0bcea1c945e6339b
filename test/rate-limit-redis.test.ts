/**
 * Rate limits shared across instances, against a real redis-server on 127.0.0.1:
 * two `npm start` processes over REDIS_URL, the Netlify and Vercel functions
 * in-process, the core over Upstash's REST protocol (a fake Upstash in front of
 * the same Redis), and what happens while Redis is down. No secret is ever
 * answered or printed.
 */
import { createClient } from "@redis/client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import vercel from "../vercel/ice-servers.ts";
import netlify from "../functions/ice-servers.mts";
import { GUARDED_WINDOW_SCRIPT, redisStore } from "../node/redis-store.ts";
import { createService } from "../shared/service.ts";
import { KEY_PREFIX } from "../shared/rate-limit/limiter.ts";
import { startFakeCloudflare, type FakeCloudflare } from "./fake-cloudflare.ts";
import { startFakeUpstash, type FakeUpstash } from "./fake-upstash.ts";
import { freePort, startLocalServer, type Spawned } from "./helpers/process.ts";
import { startRedis, type RedisServer } from "./helpers/redis.ts";
import { unset, useProcessEnv } from "./helpers/env.ts";
import { signHs256 } from "./helpers/jwt.ts";
import { captureLog } from "./helpers/log.ts";
import { answerChecks, expectExactLimit, statuses, type Answer } from "./helpers/rate-limit-answers.ts";
import { secret } from "./helpers/secrets.ts";

// This file's own instance of the service.
const { handle } = createService();

const KEY_ID = "5e1f0c0ffee5e1f0c0ffee5e1f0c0ffe";
// Unique, realistic-looking secrets, so a leak anywhere is easy to spot.
const CF_TOKEN = secret("cf-ratelimit-Secret-9Qw2Er4Ty6Ui8Op0As");
const JWT_SECRET = secret("jwt-ratelimit-Secret-Lk3Jh5Gf7Ds9Za1Xc");
const UPSTASH_TOKEN = secret("upstash-ratelimit-Secret-Mn2Bv4Cx6Zl8Kj0H");
const WRONG_UPSTASH_TOKEN = secret("upstash-wrong-Secret-Pq1Wo3Ei5Ru7Ty9U");
const SECRETS = [CF_TOKEN, JWT_SECRET, UPSTASH_TOKEN, WRONG_UPSTASH_TOKEN];
const ISSUER = "https://issuer.test";
const AUDIENCE = "turn-vend-ratelimit-test";

const BURST = 10_000;
const IN_FLIGHT = 50;
const LIMIT = 50;

/**
 * The store's count after a burst over `limit`: past the limit (the store refused), but by no
 * more than the requests in flight before each instance heard the refusal; later requests
 * are refused by the instance without a store round trip.
 */
function expectStoreSawOnlyTheFlight(count: string | null, limit: number, inFlight: number): void {
  expect(Number(count)).toBeGreaterThan(limit);
  expect(Number(count)).toBeLessThanOrEqual(limit + inFlight);
}

let redis: RedisServer | undefined;
let cloudflare: FakeCloudflare | undefined;
let upstash: FakeUpstash | undefined;
let inspector: ReturnType<typeof createClient> | undefined;
const servers: Spawned[] = [];
const origins: string[] = [];

function cloudflareEnv(): Record<string, string> {
  return { CLOUDFLARE_TURN_KEY_ID: KEY_ID, CLOUDFLARE_TURN_KEY_API_TOKEN: CF_TOKEN, CLOUDFLARE_TURN_API_BASE: cloudflare!.apiBase };
}

const { expectNoSecret, record, burst } = answerChecks(SECRETS);

const token = (user: string) => signHs256(JWT_SECRET, { sub: user, iss: ISSUER, aud: AUDIENCE, exp: "5m" });

async function startServer(env: Record<string, string>): Promise<void> {
  // No token: answered 401 before the limiter counts anything.
  const { origin, server } = await startLocalServer(env, { readyPath: "/api/ice-servers" });
  servers.push(server);
  origins.push(origin);
}

beforeAll(async () => {
  redis = await startRedis();
  cloudflare = await startFakeCloudflare({ keyId: KEY_ID, apiToken: CF_TOKEN });
  inspector = createClient({ url: redis.url });
  inspector.on("error", () => {});
  await inspector.connect();
  const env = {
    ...cloudflareEnv(),
    RATE_LIMIT: `${LIMIT}/60s`,
    REDIS_URL: redis.url,
    AUTH_MODE: "jwt",
    AUTH_JWT_SECRET: JWT_SECRET,
    AUTH_JWT_ISSUER: ISSUER,
    AUTH_JWT_AUDIENCE: AUDIENCE,
  };
  await Promise.all([startServer(env), startServer(env)]);
});

/**
 * Asks `origin` as a user of its own until an answer carries RateLimit headers: the
 * server's store is connected (servers connect before they listen; this only proves it).
 */
async function untilServerCounts(origin: string, ms: number): Promise<number> {
  const warm = await token(`warm-up-${origin}`);
  const started = performance.now();
  for (let attempt = 0; attempt < 100 && performance.now() - started < ms; attempt += 1) {
    const response = await fetch(`${origin}/api/ice-servers`, {
      headers: { authorization: `Bearer ${warm}` },
      signal: AbortSignal.timeout(5000),
    });
    await response.arrayBuffer();
    if (response.headers.has("ratelimit-limit")) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${origin} did not count requests within ${ms} ms`);
}

afterAll(async () => {
  // Everything is stopped even when something before it failed.
  await Promise.allSettled(servers.map((server) => server.stop()));
  await Promise.allSettled([upstash?.close(), cloudflare?.close()]);
  inspector?.destroy();
  await redis?.close();
});

describe("two npm start servers sharing one Redis", () => {
  it(`let exactly ${LIMIT} of a ${BURST}-request burst from one user through, across both`, { timeout: 120_000 }, async () => {
    const alice = await token("alice");
    const warmUp = await Promise.all(origins.map((origin) => untilServerCounts(origin, 15_000)));
    console.info(`servers counting after ${warmUp.map((ms) => `${ms.toFixed(0)} ms`).join(" and ")}`);
    cloudflare!.reset();
    const started = performance.now();
    const answers = await burst(BURST, IN_FLIGHT, (i) =>
      fetch(`${origins[i % 2]}/api/ice-servers`, { headers: { authorization: `Bearer ${alice}` }, signal: AbortSignal.timeout(15_000) }),
    );
    const seconds = (performance.now() - started) / 1000;
    console.info(`burst: ${BURST} requests over 2 servers in ${seconds.toFixed(1)} s (${Math.round(BURST / seconds)}/s)`);

    expectExactLimit(answers, LIMIT, 60);
    // Both servers admitted some and refused some: the count is one, not one each.
    for (const parity of [0, 1]) {
      const own = answers.filter((_, i) => i % 2 === parity);
      expect(own.filter((a) => a.status === 200).length).toBeGreaterThan(0);
      expect(own.filter((a) => a.status === 429).length).toBeGreaterThan(0);
    }
    // Only admitted requests reach the provider, each naming the verified user.
    expect(cloudflare!.requests).toHaveLength(LIMIT);
    for (const request of cloudflare!.requests) expect(JSON.parse(request.body).customIdentifier).toBe("alice");
    // Once a server saw the store refuse alice, it refused her itself: the store counted only
    // what each server had in flight by then, not the whole burst.
    expectStoreSawOnlyTheFlight(await inspector!.get(`${KEY_PREFIX}user:alice`), LIMIT, IN_FLIGHT * 2);
    expect(await inspector!.pTTL(`${KEY_PREFIX}user:alice`)).toBeGreaterThan(0);
  });

  it("leave another user's allowance whole", { timeout: 30_000 }, async () => {
    const bob = await token("bob");
    cloudflare!.reset();
    const send = (i: number) =>
      fetch(`${origins[i % 2]}/api/ice-servers`, { headers: { authorization: `Bearer ${bob}` }, signal: AbortSignal.timeout(15_000) });
    const allowed = await burst(LIMIT, 10, send);
    expect(statuses(allowed)).toEqual({ 200: LIMIT });
    const next = await record(await send(LIMIT), performance.now());
    expect(next.status).toBe(429);
    expectExactLimit([...allowed, next], LIMIT, 60);
    expect(cloudflare!.requests).toHaveLength(LIMIT);
    for (const request of cloudflare!.requests) expect(JSON.parse(request.body).customIdentifier).toBe("bob");
  });
});

describe("a cold npm start server", () => {
  async function firstRequest(timeoutMs: string | undefined, user: string): Promise<Answer> {
    const env: Record<string, string> = {
      ...cloudflareEnv(),
      RATE_LIMIT: `${LIMIT}/60s`,
      RATE_LIMIT_FAIL: "closed",
      REDIS_URL: redis!.url,
      AUTH_MODE: "jwt",
      AUTH_JWT_SECRET: JWT_SECRET,
      AUTH_JWT_ISSUER: ISSUER,
      AUTH_JWT_AUDIENCE: AUDIENCE,
    };
    if (timeoutMs) env.RATE_LIMIT_TIMEOUT_MS = timeoutMs;
    const count = origins.length;
    await startServer(env);
    const bearer = await token(user);
    const started = performance.now();
    return record(
      await fetch(`${origins[count]}/api/ice-servers`, {
        headers: { authorization: `Bearer ${bearer}` },
        signal: AbortSignal.timeout(15_000),
      }),
      started,
    );
  }

  it("counts its very first request within the default budget: the client connects while the server starts", {
    timeout: 60_000,
  }, async () => {
    const first = await firstRequest(undefined, "cold-default-budget");
    expect(first.status).toBe(200);
    expect(first.headers.get("ratelimit-remaining")).toBe(String(LIMIT - 1));
  });
});

describe("the Netlify and Vercel functions in-process, sharing REDIS_URL", () => {
  const NAMES = [
    "RATE_LIMIT",
    "RATE_LIMIT_FAIL",
    "RATE_LIMIT_TIMEOUT_MS",
    "REDIS_URL",
    "UPSTASH_REDIS_REST_URL",
    "UPSTASH_REDIS_REST_TOKEN",
    "AUTH_MODE",
    "CLOUDFLARE_TURN_KEY_ID",
    "CLOUDFLARE_TURN_KEY_API_TOKEN",
    "CLOUDFLARE_TURN_API_BASE",
    "TURN_PROVIDERS",
  ];
  let restoreEnv: (() => void) | undefined;

  afterEach(() => restoreEnv?.());

  it("count one allowance for one address, whichever function answers", async () => {
    restoreEnv = useProcessEnv({ ...unset(NAMES), ...cloudflareEnv(), RATE_LIMIT: "20/60s", REDIS_URL: redis!.url });
    const ip = "203.0.113.7";
    const url = "https://example.test/api/ice-servers";
    cloudflare!.reset();
    const answers = await burst(30, 6, (i) =>
      i % 2 === 0 ? netlify(new Request(url), { ip } as never) : vercel.fetch(new Request(url, { headers: { "x-real-ip": ip } })),
    );
    expectExactLimit(answers, 20, 60);
    for (const parity of [0, 1]) expect(answers.filter((a, i) => i % 2 === parity && a.status === 200).length).toBeGreaterThan(0);
    expect(cloudflare!.requests).toHaveLength(20);
    expectStoreSawOnlyTheFlight(await inspector!.get(`${KEY_PREFIX}ip:${ip}`), 20, 6);
  });
});

describe("while Redis is down", () => {
  const TIMEOUT_MS = 300;
  // What a request may take beyond the limiter's own budget: the fake provider, and a busy machine.
  const MARGIN_MS = 400;
  let down: RedisServer | undefined;

  afterAll(async () => {
    await down?.close();
  });

  function envFor(url: string, fail: "open" | "closed"): Record<string, string> {
    return { ...cloudflareEnv(), RATE_LIMIT: "5/60s", REDIS_URL: url, RATE_LIMIT_FAIL: fail, RATE_LIMIT_TIMEOUT_MS: String(TIMEOUT_MS) };
  }

  async function ask(env: Record<string, string>, ip: string, log = captureLog()): Promise<Answer> {
    const started = performance.now();
    return record(await handle(new Request("https://example.test/api/ice-servers"), env, { clientIp: ip, redisStore, log }), started);
  }

  /** Asks until the limiter counts again (a request answered with its headers), for at most `ms`. */
  async function untilCounting(env: Record<string, string>, ip: string, ms: number): Promise<number> {
    const started = performance.now();
    for (let attempt = 0; attempt < 200 && performance.now() - started < ms; attempt += 1) {
      const answer = await ask(env, ip);
      if (answer.headers.has("ratelimit-limit")) return performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the limiter did not count again within ${ms} ms`);
  }

  it("fails open then closed, each answer bounded in time, and counts again once Redis is back", { timeout: 60_000 }, async () => {
    down = await startRedis();
    const open = envFor(down.url, "open");
    const closed = envFor(down.url, "closed");

    const first = await ask(open, "192.0.2.1");
    expect(first.status).toBe(200);
    expect(first.headers.get("ratelimit-remaining")).toBe("4");

    await down.stop();
    const log = captureLog();
    const openAnswers: Answer[] = [];
    // More than the limit of 5: fail open lets every one through, unlimited.
    for (let i = 0; i < 8; i += 1) openAnswers.push(await ask(open, "192.0.2.1", log));
    expect(statuses(openAnswers)).toEqual({ 200: 8 });
    for (const answer of openAnswers) {
      expect(answer.headers.has("ratelimit-limit")).toBe(false);
      expect(answer.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    }
    expect(log.lines.some((line) => line.includes("RATE_LIMIT_FAIL=open"))).toBe(true);
    for (const line of log.lines) {
      expectNoSecret(line, "a log line");
      expect(line).not.toContain(String(down.port));
    }

    const closedAnswers: Answer[] = [];
    for (let i = 0; i < 5; i += 1) closedAnswers.push(await ask(closed, "192.0.2.1"));
    for (const answer of closedAnswers) {
      expect(answer.status).toBe(503);
      expect(answer.code).toBe("rate_limit_unavailable");
      expect(answer.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    }
    console.info(
      `Redis down: slowest fail-open answer ${Math.max(...openAnswers.map((a) => a.ms)).toFixed(0)} ms, slowest 503 ${Math.max(...closedAnswers.map((a) => a.ms)).toFixed(0)} ms`,
    );

    await down.start();
    const back = await untilCounting(closed, "192.0.2.99", 15_000);
    console.info(`Redis back on the same port: counting again after ${back.toFixed(0)} ms`);
    const answers: Answer[] = [];
    for (let i = 0; i < 8; i += 1) answers.push(await ask(closed, "192.0.2.2"));
    expectExactLimit(answers, 5, 60);
    // Nothing asked during the outage ran once Redis was back: the address it came from starts afresh.
    const again: Answer[] = [];
    for (let i = 0; i < 7; i += 1) again.push(await ask(closed, "192.0.2.1"));
    expectExactLimit(again, 5, 60);
  });

  it("is bounded too when Redis was never reached, and connects once it starts", { timeout: 60_000 }, async () => {
    // A port nothing listens on yet: the store's first connection never completes.
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const openAnswers: Answer[] = [];
    for (let i = 0; i < 3; i += 1) openAnswers.push(await ask(envFor(url, "open"), "192.0.2.3"));
    for (const answer of openAnswers) {
      expect(answer.status).toBe(200);
      expect(answer.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    }
    const closedAnswer = await ask(envFor(url, "closed"), "192.0.2.3");
    console.info(
      `Redis never reached: slowest fail-open answer ${Math.max(...openAnswers.map((a) => a.ms)).toFixed(0)} ms, 503 in ${closedAnswer.ms.toFixed(0)} ms`,
    );
    expect(closedAnswer.code).toBe("rate_limit_unavailable");
    expect(closedAnswer.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);

    const late = await startRedis({ port });
    try {
      const back = await untilCounting(envFor(url, "closed"), "192.0.2.98", 15_000);
      console.info(`Redis started late: counting after ${back.toFixed(0)} ms`);
      // Nothing asked while Redis was unreachable was counted when it came: the same
      // address starts with its whole allowance.
      const answers: Answer[] = [];
      for (let i = 0; i < 7; i += 1) answers.push(await ask(envFor(url, "closed"), "192.0.2.3"));
      expectExactLimit(answers, 5, 60);
    } finally {
      await late.close();
    }
  });

  it("does not replay, once a frozen Redis wakes, what requests sent it and gave up on", { timeout: 60_000 }, async () => {
    const frozen = await startRedis();
    try {
      const open = envFor(frozen.url, "open");
      expect((await ask(open, "192.0.2.5")).headers.get("ratelimit-remaining")).toBe("4");
      // Frozen, the connection stays up: commands are written and wait unread, as behind a partition.
      frozen.pause();
      const log = captureLog();
      const during: Answer[] = [];
      for (let i = 0; i < 8; i += 1) during.push(await ask(open, "192.0.2.5", log));
      expect(statuses(during)).toEqual({ 200: 8 });
      for (const answer of during) {
        expect(answer.headers.has("ratelimit-limit")).toBe(false);
        expect(answer.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
      }
      frozen.resume();
      const back = await untilCounting(open, "192.0.2.97", 15_000);
      console.info(`Redis woke: counting again after ${back.toFixed(0)} ms`);
      // The eight were let through uncounted, and stay uncounted: the address has 3 left, not 0.
      const next = await ask(open, "192.0.2.5");
      expect([next.status, next.headers.get("ratelimit-remaining")]).toEqual([200, "3"]);
    } finally {
      await frozen.close();
    }
  });
});

describe("the Redis store's script", () => {
  it("counts nothing once past its deadline, and always answers with Redis's time", async () => {
    const key = `${KEY_PREFIX}guard-test`;
    const [seconds, micros] = (await inspector!.sendCommand(["TIME"])) as [string, string];
    const redisNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const late = (await inspector!.eval(GUARDED_WINDOW_SCRIPT, { keys: [key], arguments: ["60000", String(redisNow - 1)] })) as number[];
    expect(late.slice(0, 2)).toEqual([-1, -1]);
    expect(late[2]).toBeGreaterThanOrEqual(redisNow);
    expect(await inspector!.exists(key)).toBe(0);
    const inTime = (await inspector!.eval(GUARDED_WINDOW_SCRIPT, {
      keys: [key],
      arguments: ["60000", String(redisNow + 60_000)],
    })) as number[];
    expect(inTime.slice(0, 2)).toEqual([1, 60_000]);
    expect(await inspector!.get(key)).toBe("1");
    await inspector!.del(key);
  });
});

describe("Upstash's REST protocol from Node (a fake Upstash in front of the same Redis)", () => {
  function envFor(extra: Record<string, string>): Record<string, string> {
    return {
      ...cloudflareEnv(),
      RATE_LIMIT: "20/60s",
      UPSTASH_REDIS_REST_URL: upstash!.url,
      UPSTASH_REDIS_REST_TOKEN: UPSTASH_TOKEN,
      ...extra,
    };
  }

  type AskOptions = { log?: ReturnType<typeof captureLog>; redis?: boolean };
  function send(env: Record<string, string>, ip: string, options: AskOptions = {}): Promise<Response> {
    const request = new Request("https://example.test/api/ice-servers");
    return handle(request, env, { clientIp: ip, log: options.log ?? captureLog(), ...(options.redis ? { redisStore } : {}) });
  }

  async function ask(env: Record<string, string>, ip: string, options: AskOptions = {}): Promise<Answer> {
    const started = performance.now();
    return record(await send(env, ip, options), started);
  }

  beforeAll(async () => {
    upstash = await startFakeUpstash({ redisUrl: redis!.url, token: UPSTASH_TOKEN });
  });

  it("the fake speaks the documented protocol", async () => {
    const post = (path: string, body: unknown, bearer = UPSTASH_TOKEN) =>
      fetch(`${upstash!.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${bearer}` }, body: JSON.stringify(body) });
    let response = await post("/", ["SET", "fake-upstash:probe", "1"]);
    expect([response.status, await response.json()]).toEqual([200, { result: "OK" }]);
    response = await post("/", ["INCRBY", "fake-upstash:probe", 2]);
    expect([response.status, await response.json()]).toEqual([200, { result: 3 }]);
    response = await post("/", ["LPUSH", "fake-upstash:probe", "x"]);
    expect(response.status).toBe(400);
    expect((await response.json()).error).toMatch(/^WRONGTYPE/);
    response = await post("/", ["GET", "fake-upstash:probe"], WRONG_UPSTASH_TOKEN);
    expect([response.status, await response.json()]).toEqual([401, { error: "Unauthorized" }]);
    response = await post("/pipeline", [["GET", "fake-upstash:probe"], ["GET", "fake-upstash:absent"], ["NOSUCHCOMMAND"]]);
    const replies = await response.json();
    expect(response.status).toBe(200);
    expect(replies.slice(0, 2)).toEqual([{ result: "3" }, { result: null }]);
    expect(replies[2].error).toMatch(/^ERR unknown command/);
    await inspector!.del("fake-upstash:probe");
  });

  it("limits a burst from one address exactly, with the count kept in the real Redis", async () => {
    const ip = "198.51.100.20";
    upstash!.reset();
    cloudflare!.reset();
    const answers = await burst(40, 8, () => send(envFor({}), ip));
    expectExactLimit(answers, 20, 60);
    expect(cloudflare!.requests).toHaveLength(20);
    expectStoreSawOnlyTheFlight(String(upstash!.requests.length), 20, 8);
    for (const request of upstash!.requests) {
      expect(request.authorized).toBe(true);
      expect(request.commands[0][0]).toBe("EVAL");
      expect(request.commands[0][3]).toBe(`${KEY_PREFIX}ip:${ip}`);
    }
    expect(await inspector!.get(`${KEY_PREFIX}ip:${ip}`)).toBe(String(upstash!.requests.length));
    const ttl = await inspector!.pTTL(`${KEY_PREFIX}ip:${ip}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);

    const other = await ask(envFor({}), "198.51.100.21");
    expect(other.status).toBe(200);
    expect(other.headers.get("ratelimit-remaining")).toBe("19");
  });

  it("asks the store nothing more for a caller it saw refused, until the Retry-After it gave", async () => {
    const ip = "198.51.100.25";
    upstash!.reset();
    const env = envFor({ RATE_LIMIT: "3/60s" });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i += 1) statuses.push((await ask(env, ip)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
    // Three admitted and the one refused by the store; the other six never left the instance.
    expect(upstash!.requests).toHaveLength(4);
    expect(await inspector!.get(`${KEY_PREFIX}ip:${ip}`)).toBe("4");
    // Noted under the rule it broke: a new RATE_LIMIT asks the store again at once.
    expect((await ask(envFor({ RATE_LIMIT: "10/60s" }), ip)).status).toBe(200);
    expect(upstash!.requests).toHaveLength(5);
  });

  it("shares one count with Node instances that reach the same Redis over TCP", async () => {
    const ip = "198.51.100.30";
    const overTcp = { ...cloudflareEnv(), RATE_LIMIT: "20/60s", REDIS_URL: redis!.url };
    const answers = await burst(30, 6, (i) => (i % 2 === 0 ? send(envFor({}), ip) : send(overTcp, ip, { redis: true })));
    expectExactLimit(answers, 20, 60);
    expectStoreSawOnlyTheFlight(await inspector!.get(`${KEY_PREFIX}ip:${ip}`), 20, 6);
  });

  it("refuses a wrong token: fail open lets requests through, fail closed answers 503, never showing a token", async () => {
    upstash!.reset();
    const log = captureLog();
    const wrong = { UPSTASH_REDIS_REST_TOKEN: WRONG_UPSTASH_TOKEN, RATE_LIMIT_TIMEOUT_MS: "300" };
    const open: Answer[] = [];
    // Past the limit of 20: fail open does not count at all.
    for (let i = 0; i < 25; i += 1) open.push(await ask(envFor({ ...wrong, RATE_LIMIT_FAIL: "open" }), "198.51.100.40", { log }));
    expect(statuses(open)).toEqual({ 200: 25 });
    for (const answer of open) {
      expect(answer.headers.has("ratelimit-limit")).toBe(false);
      expect(answer.ms).toBeLessThan(700);
    }
    const closed = await ask(envFor({ ...wrong, RATE_LIMIT_FAIL: "closed" }), "198.51.100.40", { log });
    expect(closed.status).toBe(503);
    expect(closed.code).toBe("rate_limit_unavailable");
    expect(closed.ms).toBeLessThan(700);
    expect(upstash!.requests.length).toBe(26);
    expect(upstash!.requests.every((request) => !request.authorized)).toBe(true);
    expect(await inspector!.exists(`${KEY_PREFIX}ip:198.51.100.40`)).toBe(0);
    expect(log.lines.some((line) => line.includes("RATE_LIMIT_FAIL=open"))).toBe(true);
    for (const line of log.lines) {
      expectNoSecret(line, "a log line");
      expect(line).not.toContain(upstash!.url);
    }
  });
});

describe("secret hygiene", () => {
  it("the servers never printed a secret, though the provider did receive its token", () => {
    expect(servers.length).toBeGreaterThanOrEqual(2);
    for (const server of servers) {
      expect(server.output()).toContain("Serving http://127.0.0.1:");
      expectNoSecret(server.output(), "a server's output");
    }
    expectNoSecret(redis!.output(), "redis-server's output");
    expect(cloudflare!.requests.length).toBeGreaterThan(0);
    expect(cloudflare!.requests.every((request) => request.headers.authorization === `Bearer ${CF_TOKEN}`)).toBe(true);
  });
});
