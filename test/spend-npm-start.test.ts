/**
 * The spend guard through `npm start`: real processes, their node:http upstream client, the fakes
 * on loopback. Two instances sharing a real Redis read each provider's usage once between them
 * for 2,000 requests; a provider over its limit is skipped, and with none left the answer is 503
 * spend_limit_reached; a usage API that hangs delays no answer past the budget. No secret reaches
 * an answer or a process's output.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeCloudflare, type FakeCloudflare } from "./fake-cloudflare.ts";
import { startFakeCloudflareGraphql, type FakeCloudflareGraphql } from "./fake-cloudflare-graphql.ts";
import { isMeteredUsageRead, startFakeMetered, type FakeMetered } from "./fake-metered.ts";
import { startLocalServer, type Spawned } from "./helpers/process.ts";
import { startRedis, type RedisServer } from "./helpers/redis.ts";
import { registeredSecrets, secret } from "./helpers/secrets.ts";

const KEY_ID = "npmspendkey0123456789ab";
const KEY_TOKEN = secret("cf-npm-spend-key-token-Ws2Ed3Rf4");
const ACCOUNT_ID = "fedcba9876543210fedcba9876543210";
const ANALYTICS_TOKEN = secret("cf-npm-analytics-token-Tg5Yh6Uj7");
const METERED_KEY = secret("metered-npm-spend-secret-Ik8Ol9Pm0");
const GB = 1e9;
const TOTAL_MS = 3000;

let redis: RedisServer;
let cloudflare: FakeCloudflare;
let graphql: FakeCloudflareGraphql;
let hungGraphql: FakeCloudflareGraphql;
let metered: FakeMetered;
const servers: Spawned[] = [];

function env(extra: Record<string, string>): Record<string, string> {
  return {
    CLOUDFLARE_TURN_KEY_ID: KEY_ID,
    CLOUDFLARE_TURN_KEY_API_TOKEN: KEY_TOKEN,
    CLOUDFLARE_TURN_API_BASE: cloudflare.apiBase,
    CLOUDFLARE_ACCOUNT_ID: ACCOUNT_ID,
    CLOUDFLARE_ANALYTICS_TOKEN: ANALYTICS_TOKEN,
    CLOUDFLARE_GRAPHQL_URL: graphql.url,
    METERED_APP: metered.origin,
    METERED_SECRET_KEY: METERED_KEY,
    TURN_PROVIDERS: "cloudflare,metered",
    TURN_MONTHLY_LIMITS: "cloudflare:1000GB,metered:40GB",
    TURN_UPSTREAM_TIMEOUT_MS: "1500",
    TURN_TOTAL_TIMEOUT_MS: String(TOTAL_MS),
    RATE_LIMIT: "off",
    LOG_FORMAT: "json",
    ...extra,
  };
}

async function start(extra: Record<string, string>): Promise<string> {
  const started = await startLocalServer(env(extra));
  servers.push(started.server);
  return started.origin;
}

async function vend(origin: string) {
  const started = performance.now();
  const response = await fetch(`${origin}/api/ice-servers?ttl=600`);
  const text = await response.text();
  for (const value of registeredSecrets()) expect(text).not.toContain(value);
  return { status: response.status, headers: response.headers, body: JSON.parse(text), elapsedMs: performance.now() - started };
}

const requestLines = (server: Spawned) =>
  server
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line));

beforeAll(async () => {
  redis = await startRedis();
  cloudflare = await startFakeCloudflare({ keyId: KEY_ID, apiToken: KEY_TOKEN });
  graphql = await startFakeCloudflareGraphql({ accountId: ACCOUNT_ID, token: ANALYTICS_TOKEN });
  hungGraphql = await startFakeCloudflareGraphql({ accountId: ACCOUNT_ID, token: ANALYTICS_TOKEN });
  hungGraphql.setFault({ kind: "hang" });
  metered = await startFakeMetered({ secretKey: METERED_KEY });
  graphql.keyBytes.set(KEY_ID, 1000 * GB);
  metered.usage = { quotaInGB: 150, usageInGB: 2 };
}, 60_000);

afterAll(async () => {
  for (const server of servers) await server.stop();
  for (const fake of [cloudflare, graphql, hungGraphql, metered]) await fake?.close();
  await redis?.close();
  for (const server of servers) for (const value of registeredSecrets()) expect(server.output()).not.toContain(value);
});

describe("npm start with spending limits", () => {
  it("two instances sharing Redis read each provider's usage once for 2,000 requests, and skip the one over its limit", async () => {
    const origins = await Promise.all([start({ REDIS_URL: redis.url }), start({ REDIS_URL: redis.url })]);
    const statuses: number[] = [];
    for (let batch = 0; batch < 100; batch += 1) {
      const answers = await Promise.all(Array.from({ length: 20 }, (_, index) => vend(origins[index % 2])));
      statuses.push(...answers.map((answer) => answer.status));
      for (const answer of answers) expect(answer.body.provider).toBe("metered");
    }
    expect(statuses.filter((status) => status === 200)).toHaveLength(2000);
    expect(graphql.queries.key).toBeLessThanOrEqual(1);
    expect(metered.requests.filter(isMeteredUsageRead).length).toBeLessThanOrEqual(1);
    expect(cloudflare.requests).toHaveLength(0);
    // Each instance's request lines say why Cloudflare was skipped, and carry Metered's figure.
    for (const server of servers.slice(0, 2)) {
      const served = requestLines(server).filter((line) => line.type === "request" && line.status === 200);
      expect(served.length).toBeGreaterThan(0);
      const last = served.at(-1);
      expect(last.tried).toEqual([{ provider: "cloudflare", error: "spend_limit_reached" }, { provider: "metered" }]);
      expect(last.usage).toMatchObject({ provider: "metered", bytes: 2 * GB, limit: 40 * GB });
    }
  }, 120_000);

  it("answers 503 spend_limit_reached with a Retry-After when no provider is left", async () => {
    const origin = await start({ TURN_PROVIDERS: "cloudflare", TURN_MONTHLY_LIMITS: "cloudflare:1000GB" });
    const answer = await vend(origin);
    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe("spend_limit_reached");
    expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(requestLines(servers.at(-1)!).some((line) => line.event === "spend_limit_reached")).toBe(true);
  }, 60_000);

  it("serves within the budget while the usage API hangs", async () => {
    const origin = await start({
      TURN_PROVIDERS: "cloudflare",
      TURN_MONTHLY_LIMITS: "cloudflare:1000GB",
      CLOUDFLARE_GRAPHQL_URL: hungGraphql.url,
    });
    const answers = [await vend(origin), await vend(origin)];
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body.provider).toBe("cloudflare");
      expect(answer.elapsedMs).toBeLessThan(TOTAL_MS);
    }
    expect(hungGraphql.requests).toHaveLength(1);
  }, 60_000);
});
