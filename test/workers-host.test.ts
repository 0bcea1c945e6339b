/**
 * What only the Worker host decides, under wrangler dev (workerd): which client address it
 * counts, that the rate limit goes through Upstash's REST protocol (Workers have no TCP
 * sockets for Redis), and that the bundle it deploys holds no Node-only code.
 */
import { createClient } from "@redis/client";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEY_PREFIX } from "../shared/rate-limit/limiter.ts";
import { startFakeCloudflare, type FakeCloudflare } from "./fake-cloudflare.ts";
import { startFakeUpstash, type FakeUpstash } from "./fake-upstash.ts";
import { answerChecks, expectExactLimit } from "./helpers/rate-limit-answers.ts";
import { startRedis, type RedisServer } from "./helpers/redis.ts";
import { secret } from "./helpers/secrets.ts";
import { buildWorker, startWranglerDev, type WranglerDev } from "./helpers/wrangler-dev.ts";

const KEY_ID = "0a0b0c0d0e0f00112233445566778899";
const CF_TOKEN = secret("cf-workers-host-Secret-5Tg7Yh9Uj1Ik3Ol");
const UPSTASH_TOKEN = secret("upstash-workers-Secret-2Ws4Ed6Rf8Tg0Yh");
const LIMIT = 3;
const ROOT = resolve(import.meta.dirname, "..");
const { expectNoSecret, record, burst } = answerChecks([CF_TOKEN, UPSTASH_TOKEN]);

describe("the Worker under wrangler dev, rate-limited through Upstash's REST protocol", () => {
  let redis: RedisServer;
  let upstash: FakeUpstash;
  let cloudflare: FakeCloudflare;
  let wrangler: WranglerDev;
  let client: ReturnType<typeof createClient>;

  beforeAll(async () => {
    redis = await startRedis();
    upstash = await startFakeUpstash({ redisUrl: redis.url, token: UPSTASH_TOKEN });
    cloudflare = await startFakeCloudflare({ keyId: KEY_ID, apiToken: CF_TOKEN });
    client = createClient({ url: redis.url });
    await client.connect();
    wrangler = await startWranglerDev({
      CLOUDFLARE_TURN_KEY_ID: KEY_ID,
      CLOUDFLARE_TURN_KEY_API_TOKEN: CF_TOKEN,
      CLOUDFLARE_TURN_API_BASE: cloudflare.apiBase,
      RATE_LIMIT: `${LIMIT}/60s`,
      UPSTASH_REDIS_REST_URL: upstash.url,
      UPSTASH_REDIS_REST_TOKEN: UPSTASH_TOKEN,
    });
  });

  afterAll(async () => {
    await wrangler?.close();
    await client?.quit();
    await cloudflare?.close();
    await upstash?.close();
    await redis?.close();
    if (wrangler) expectNoSecret(wrangler.worker.output(), "wrangler dev's output");
  });

  const ask = (headers: Record<string, string>) => fetch(`${wrangler.origin}/api/ice-servers`, { headers });
  const count = async (address: string) => client.get(`${KEY_PREFIX}ip:${address}`);

  it("a burst from one address is limited exactly, counted in Redis through Upstash under its CF-Connecting-IP", async () => {
    upstash.reset();
    // Cloudflare's edge sets CF-Connecting-IP; under wrangler dev the test plays the edge.
    const answers = await burst(6, 3, () => ask({ "cf-connecting-ip": "203.0.113.7" }));
    expectExactLimit(answers, LIMIT, 60);
    // Past the limit by no more than what was in flight: once the Worker saw the store refuse the
    // address, it refused it itself, with no round trip (shared/rate-limit/over-limit.ts).
    expect(upstash.requests.length).toBeGreaterThan(LIMIT);
    expect(upstash.requests.length).toBeLessThanOrEqual(LIMIT + 3);
    expect(upstash.requests.every((request) => request.authorized)).toBe(true);
    expect(await count("203.0.113.7")).toBe(String(upstash.requests.length));
  });

  it("another address keeps its whole allowance", async () => {
    const answer = await record(await ask({ "cf-connecting-ip": "203.0.113.8" }));
    expect(answer.status).toBe(200);
    expect(answer.headers.get("ratelimit-remaining")).toBe(String(LIMIT - 1));
  });

  it("headers a client could forge are not read: each request counts under its CF-Connecting-IP", async () => {
    const answers: number[] = [];
    for (let i = 1; i <= LIMIT + 1; i += 1) {
      const forged = `198.51.100.${i}`;
      const answer = await record(
        await ask({ "cf-connecting-ip": "203.0.113.9", "x-forwarded-for": forged, "x-real-ip": forged, "true-client-ip": forged }),
      );
      answers.push(answer.status);
    }
    expect(answers).toEqual([200, 200, 200, 429]);
    expect(await count("203.0.113.9")).toBe(String(LIMIT + 1));
    expect(await client.keys(`${KEY_PREFIX}ip:198.51.100.*`)).toEqual([]);
  });

  it("a page on the host the request was routed by is same-origin; a page on another host is refused", async () => {
    const routed = `https://${new URL(wrangler.origin).host}`;
    const own = await record(await ask({ "cf-connecting-ip": "203.0.113.10", origin: routed }));
    expect(own.status).toBe(200);
    expect(own.headers.get("access-control-allow-origin")).toBe(routed);
    for (const origin of ["https://evil.example", `https://localhost:${new URL(wrangler.origin).port}`]) {
      const other = await record(await ask({ "cf-connecting-ip": "203.0.113.10", origin }));
      expect([other.status, other.code]).toEqual([403, "origin_not_allowed"]);
    }
  });
});

it("the Worker's bundle holds web-standard code only: no node: import, nothing from node/ or @redis/client", () => {
  const outDir = mkdtempSync(join(tmpdir(), "turn-vend-worker-bundle-"));
  try {
    buildWorker(outDir);
    const code = readFileSync(join(outDir, "ice-servers.js"), "utf8");
    const { sources } = JSON.parse(readFileSync(join(outDir, "ice-servers.js.map"), "utf8")) as { sources: string[] };
    const files = sources.map((source) => relative(ROOT, resolve(outDir, source)));
    expect(code).not.toMatch(/["']node:/);
    // Our own files in it are the entry and the core, never node/; no package is Node-only.
    expect(files.filter((file) => !file.startsWith("node_modules/") && !/^(shared|workers)\//.test(file))).toEqual([]);
    expect(files.filter((file) => file.startsWith("node_modules/@redis/"))).toEqual([]);
    expect(files).toContain("workers/ice-servers.ts");
    expect(files).toContain("shared/handle.ts");
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}, 120_000);
