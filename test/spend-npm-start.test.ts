/**
 * The spend guard through `npm start`: real processes, their node:http upstream client, the fakes
 * on loopback. Two instances sharing a real Redis read each provider's usage once between them
 * for 2,000 requests; a provider over its limit is skipped, and with none left the answer is 503
 * spend_limit_reached; a usage API that hangs delays no answer past the budget. No secret reaches
 * an answer or a process's output.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeCloudflareGraphql, type FakeCloudflareGraphql } from "./fake-cloudflare-graphql.ts";
import { isMeteredUsageRead } from "./fake-metered.ts";
import { startLocalServer, type Spawned } from "./helpers/process.ts";
import { startRedis, type RedisServer } from "./helpers/redis.ts";
import { registeredSecrets } from "./helpers/secrets.ts";
import { closeSpendFakes, SPEND, spendEnv, startSpendFakes, type SpendFakes } from "./helpers/spend-fakes.ts";

const GB = 1e9;
const TOTAL_MS = 3000;

let redis: RedisServer;
let fakes: SpendFakes;
let hungGraphql: FakeCloudflareGraphql;
const servers: Spawned[] = [];

const env = (extra: Record<string, string>) =>
  spendEnv(fakes, {
    TURN_PROVIDERS: "cloudflare,metered",
    TURN_MONTHLY_LIMITS: "cloudflare:1000GB,metered:40GB",
    TURN_UPSTREAM_TIMEOUT_MS: "1500",
    TURN_TOTAL_TIMEOUT_MS: String(TOTAL_MS),
    ...extra,
  });

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
  fakes = await startSpendFakes();
  hungGraphql = await startFakeCloudflareGraphql({ accountId: SPEND.accountId, token: SPEND.analyticsToken });
  hungGraphql.setFault({ kind: "hang" });
  fakes.graphql.keyBytes.set(SPEND.keyId, 1000 * GB);
  fakes.metered.usage = { quotaInGB: 150, usageInGB: 2 };
}, 60_000);

afterAll(async () => {
  for (const server of servers) await server.stop();
  await closeSpendFakes(fakes ?? {});
  await hungGraphql?.close();
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
    expect(fakes.graphql.queries.key).toBeLessThanOrEqual(1);
    expect(fakes.metered.requests.filter(isMeteredUsageRead).length).toBeLessThanOrEqual(1);
    expect(fakes.cloudflare.requests).toHaveLength(0);
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
