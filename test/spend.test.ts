/**
 * The spend guard through handle(): providers' usage read from their fakes' usage APIs, a provider
 * at its TURN_MONTHLY_LIMITS limit skipped, 503 spend_limit_reached when none is left, one read per
 * refresh period however many requests, a usage API that hangs or answers nonsense never delaying
 * or failing an answer, and the per-user quota. Each test has a service instance of its own, so
 * that no figure read in one test is held in the next.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createService, type Service } from "../shared/service.ts";
import { parseConfig } from "../shared/config.ts";
import { isMeteredUsageRead } from "./fake-metered.ts";
import { isTwilioUsageRead } from "./fake-twilio.ts";
import type { Fault } from "./fake-upstream.ts";
import { signHs256 } from "./helpers/jwt.ts";
import { captureLog } from "./helpers/log.ts";
import { registeredSecrets, secret } from "./helpers/secrets.ts";
import { closeSpendFakes, SPEND, spendEnv, startSpendFakes, type SpendFakes } from "./helpers/spend-fakes.ts";

const JWT_SECRET = secret("spend-jwt-secret-0123456789abcdef0123456789");
const ATTEMPT_MS = 800;
const TOTAL_MS = 2000;
const GB = 1e9;
const { keyId: KEY_ID, accountId: ACCOUNT_ID, analyticsToken: ANALYTICS_TOKEN, twilioSid: TWILIO_SID } = SPEND;

let fakes: SpendFakes;
let cloudflare: SpendFakes["cloudflare"];
let graphql: SpendFakes["graphql"];
let metered: SpendFakes["metered"];
let twilio: SpendFakes["twilio"];

beforeAll(async () => {
  fakes = await startSpendFakes();
  ({ cloudflare, graphql, metered, twilio } = fakes);
});
afterAll(() => closeSpendFakes(fakes ?? {}));

// The month every test runs in (the injected clock), and each test's own instance of the service.
const month = 1;
let clock = 0;
let handle: Service["handle"];
beforeEach(() => {
  handle = createService().handle;
  for (const fake of [cloudflare, graphql, metered, twilio]) fake.reset();
  graphql.keyBytes.clear();
  graphql.userBytes.clear();
  metered.usage = { quotaInGB: 150, usageInGB: 0 };
  twilio.usage = { megabytes: "0", unit: "megabytes" };
  clock = Date.UTC(2030, month, 10, 12);
});

const env = (extra: Record<string, string> = {}) =>
  spendEnv(fakes, { TURN_UPSTREAM_TIMEOUT_MS: String(ATTEMPT_MS), TURN_TOTAL_TIMEOUT_MS: String(TOTAL_MS), ...extra });

async function ask(environment: Record<string, string>, headers: Record<string, string> = {}) {
  const log = captureLog();
  const started = performance.now();
  const response = await handle(new Request("https://site.example/api/ice-servers?ttl=900", { headers }), environment, {
    log,
    now: () => clock,
  });
  const text = await response.text();
  const elapsedMs = performance.now() - started;
  const everything = [text, ...log.lines, ...[...response.headers].map(([name, value]) => `${name}: ${value}`)].join("\n");
  for (const value of registeredSecrets()) expect(everything).not.toContain(value);
  const entries = log.lines.map((line) => JSON.parse(line));
  return {
    response,
    status: response.status,
    body: JSON.parse(text),
    elapsedMs,
    request: entries.find((entry) => entry.type === "request"),
    events: entries.filter((entry) => entry.type === "operator").map((entry) => entry.event as string),
  };
}

const secondsToNextMonth = () => Math.ceil((Date.UTC(2030, month + 1, 1) - clock) / 1000);

describe("a provider under its limit", () => {
  it("serves, and the log line carries the figure, its limit and its age", async () => {
    graphql.keyBytes.set(KEY_ID, 500 * GB);
    const first = await ask(env());
    expect(first.status).toBe(200);
    expect(first.body.provider).toBe("cloudflare");
    expect(first.request.usage).toEqual({ provider: "cloudflare", bytes: 500 * GB, limit: 1000 * GB, ageS: 0 });
    expect(first.events).toEqual([]);
    // The documented query: the account, the key, this month, with the analytics token.
    expect(graphql.requests).toHaveLength(1);
    const sent = graphql.requests[0];
    expect(sent.headers.authorization).toBe(`Bearer ${ANALYTICS_TOKEN}`);
    const { query, variables } = JSON.parse(sent.body);
    expect(query).toContain("callsTurnUsageAdaptiveGroups");
    expect(query).toContain("egressBytes");
    expect(variables).toMatchObject({
      accountTag: ACCOUNT_ID,
      keyId: KEY_ID,
      since: new Date(Date.UTC(2030, month, 1)).toISOString().replace(".000", ""),
      until: new Date(Date.UTC(2030, month + 1, 1)).toISOString().replace(".000", ""),
    });
    clock += 30_000;
    expect((await ask(env())).request.usage).toEqual({ provider: "cloudflare", bytes: 500 * GB, limit: 1000 * GB, ageS: 30 });
  });

  it("reads an empty list (no traffic yet this month) as zero", async () => {
    const answer = await ask(env());
    expect(answer.body.provider).toBe("cloudflare");
    expect(answer.request.usage).toMatchObject({ provider: "cloudflare", bytes: 0 });
  });

  it("tells the operator at 80 % of the limit, at most once an hour", async () => {
    graphql.keyBytes.set(KEY_ID, 850 * GB);
    expect((await ask(env())).events).toEqual(["spend_limit_near"]);
    clock += 61_000;
    expect((await ask(env())).events).toEqual([]);
    clock += 3_600_000;
    const later = await ask(env());
    expect(later.status).toBe(200);
    expect(later.events).toContain("spend_limit_near");
  });
});

describe("a provider at or over its limit", () => {
  it("is skipped like a failed one: the next serves, and the log line says why", async () => {
    graphql.keyBytes.set(KEY_ID, 1000 * GB);
    metered.usage = { quotaInGB: 150, usageInGB: 12.5 };
    const answer = await ask(env());
    expect(answer.status).toBe(200);
    expect(answer.body.provider).toBe("metered");
    expect(answer.request.tried).toEqual([{ provider: "cloudflare", error: "spend_limit_reached" }, { provider: "metered" }]);
    expect(answer.request.usage).toEqual({ provider: "metered", bytes: 12.5 * GB, limit: 40 * GB, ageS: 0 });
    expect(answer.events).toEqual(["spend_limit_reached"]);
    // No credential was asked of the provider over its limit.
    expect(cloudflare.requests).toHaveLength(0);
    expect(metered.requests.filter(isMeteredUsageRead)).toHaveLength(1);
    // The event repeats at most once a minute.
    expect((await ask(env())).events).toEqual([]);
  });

  it("answers 503 spend_limit_reached with a Retry-After to the next month when none is left", async () => {
    graphql.keyBytes.set(KEY_ID, 1200 * GB);
    metered.usage = { quotaInGB: 150, usageInGB: 40 };
    twilio.usage = { megabytes: "50000.5", unit: "megabytes" };
    const answer = await ask(env({ TURN_MONTHLY_LIMITS: "cloudflare:1000GB,metered:40GB,twilio:50GB" }));
    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe("spend_limit_reached");
    // Metered's billing cycle is not known: it may be under again at its next reading, sooner than next month.
    expect(answer.response.headers.get("retry-after")).toBe("60");
    expect(answer.request.tried.map((tried: { error?: string }) => tried.error)).toEqual([
      "spend_limit_reached",
      "spend_limit_reached",
      "spend_limit_reached",
    ]);
    const calendarOnly = await ask(env({ TURN_PROVIDERS: "cloudflare,twilio", TURN_MONTHLY_LIMITS: "cloudflare:1000GB,twilio:50GB" }));
    expect(calendarOnly.status).toBe(503);
    expect(calendarOnly.response.headers.get("retry-after")).toBe(String(secondsToNextMonth()));
    // Twilio's usage record was read as documented: Basic auth, this month, the TURN category.
    const read = twilio.requests.find(isTwilioUsageRead)!;
    expect(read.method).toBe("GET");
    expect(read.path).toBe(`/2010-04-01/Accounts/${TWILIO_SID}/Usage/Records/ThisMonth.json`);
    expect(read.query.get("Category")).toBe("turnmegabytes");
  });

  it("answers STUN-only instead where TURN_FALLBACK_STUN is on", async () => {
    graphql.keyBytes.set(KEY_ID, 2000 * GB);
    const answer = await ask(env({ TURN_PROVIDERS: "cloudflare", TURN_MONTHLY_LIMITS: "cloudflare:1TB", TURN_FALLBACK_STUN: "true" }));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ provider: "none", degraded: true });
  });

  it("reads Twilio's figure in the unit its record names, and refuses one it does not know", async () => {
    twilio.usage = { megabytes: "49.9", unit: "gigabytes" };
    const environment = env({ TURN_PROVIDERS: "twilio", TURN_MONTHLY_LIMITS: "twilio:50GB" });
    expect((await ask(environment)).request.usage).toMatchObject({ bytes: 49.9 * GB });
    twilio.usage = { megabytes: "60000", unit: "furlongs" };
    clock += 60_000 * 60;
    const unknown = await ask(environment);
    expect(unknown.status).toBe(200);
    expect(unknown.events).toEqual(["usage_unavailable"]);
  });
});

describe("how often usage is read", () => {
  it("2,000 requests within one refresh period read each provider's usage once", async () => {
    graphql.keyBytes.set(KEY_ID, 1000 * GB);
    metered.usage = { quotaInGB: 150, usageInGB: 1 };
    const environment = env({ TURN_PROVIDERS: "cloudflare,metered", TURN_MONTHLY_LIMITS: "cloudflare:1000GB,metered:40GB" });
    const statuses: number[] = [];
    for (let batch = 0; batch < 40; batch += 1) {
      // Fifty at once: the first batch all want the first reading, and share one read.
      const answers = await Promise.all(
        Array.from({ length: 50 }, () =>
          handle(new Request("https://site.example/api/ice-servers"), environment, { log: captureLog(), now: () => clock }),
        ),
      );
      statuses.push(...answers.map((answer) => answer.status));
      clock += 25;
    }
    expect(statuses.filter((status) => status === 200)).toHaveLength(2000);
    expect(graphql.queries.key).toBe(1);
    expect(metered.requests.filter(isMeteredUsageRead)).toHaveLength(1);
    // A refresh period on, one more read each.
    clock += 60_000;
    // The figure held answers at once; the new read runs behind it.
    expect((await ask(environment)).request.usage).toMatchObject({ provider: "metered", ageS: 61 });
    await vi.waitFor(() => expect(graphql.queries.key).toBe(2));
  });
});

describe("a read that runs behind an answer", () => {
  it("is handed to the host's waitUntil, so that a host which cancels what is left keeps it", async () => {
    graphql.keyBytes.set(KEY_ID, 100 * GB);
    const kept: Promise<unknown>[] = [];
    const call = () =>
      handle(new Request("https://site.example/api/ice-servers"), env(), {
        log: captureLog(),
        now: () => clock,
        waitUntil: (work) => kept.push(work),
      });
    expect((await call()).status).toBe(200);
    expect(kept).toHaveLength(1);
    clock += 61_000;
    graphql.setFault({ kind: "latency", ms: 300 });
    expect((await call()).status).toBe(200);
    expect(kept).toHaveLength(2);
    expect(graphql.queries.key).toBe(1);
    await kept[1];
    expect(graphql.queries.key).toBe(2);
  });
});

describe("a usage API that fails", () => {
  const faults: [string, Fault][] = [
    ["hangs", { kind: "hang" }],
    ["answers 500", { kind: "status", status: 500, body: "{}" }],
    ["answers a body that is not JSON", { kind: "bad-json" }],
    ["answers the wrong shape", { kind: "wrong-shape" }],
    ["answers a GraphQL error with a 200", { kind: "status", status: 200, body: '{"data":null,"errors":[{"message":"boom"}]}' }],
    ["resets the connection", { kind: "reset" }],
  ];
  for (const [name, fault] of faults) {
    it(`never fails or delays an answer past the budget when it ${name}`, async () => {
      graphql.setFault(fault);
      const answer = await ask(env());
      expect(answer.status).toBe(200);
      expect(answer.body.provider).toBe("cloudflare");
      expect(answer.elapsedMs).toBeLessThan(TOTAL_MS);
      expect(answer.events).toEqual(["usage_unavailable"]);
      expect(answer.request.usage).toEqual({ provider: "cloudflare", limit: 1000 * GB });
      // Later requests in the period do not wait for it at all.
      const next = await ask(env());
      expect(next.status).toBe(200);
      expect(next.events).toEqual([]);
    });
  }

  it("keeps the last figure for 15 minutes, then counts the provider as under its limit and says so", async () => {
    graphql.keyBytes.set(KEY_ID, 1500 * GB);
    expect((await ask(env())).body.provider).toBe("metered");
    graphql.setFault({ kind: "status", status: 503 });
    clock += 14 * 60_000;
    const standing = await ask(env());
    expect(standing.body.provider).toBe("metered");
    // Metered's figure is as old too: it answers at once, while its new reading runs behind it.
    expect(standing.request.usage).toEqual({ provider: "metered", bytes: 0, limit: 40 * GB, ageS: 14 * 60 });
    clock += 2 * 60_000;
    const lapsed = await ask(env());
    expect(lapsed.status).toBe(200);
    expect(lapsed.body.provider).toBe("cloudflare");
    expect(lapsed.events).toContain("usage_unavailable");
  });

  it("leaves the credential endpoint of the same provider alone (Metered's usage answers 400 without a plan)", async () => {
    metered.usage = "no plan";
    const answer = await ask(env({ TURN_PROVIDERS: "metered", TURN_MONTHLY_LIMITS: "metered:40GB" }));
    expect(answer.status).toBe(200);
    expect(answer.body.provider).toBe("metered");
    expect(answer.events).toEqual(["usage_unavailable"]);
    metered.setFault({ kind: "hang" }, isMeteredUsageRead);
    clock += 60_000 * 60;
    const hung = await ask(env({ TURN_PROVIDERS: "metered", TURN_MONTHLY_LIMITS: "metered:40GB" }));
    expect(hung.status).toBe(200);
    expect(hung.elapsedMs).toBeLessThan(TOTAL_MS);
  });
});

describe("per-user quotas on Cloudflare", () => {
  const ISSUER = "https://id.example";
  const AUDIENCE = "turn";
  const userEnv = () =>
    env({
      TURN_PROVIDERS: "cloudflare",
      TURN_MONTHLY_LIMITS: "",
      TURN_USER_MONTHLY_LIMIT: "5GB",
      AUTH_MODE: "jwt",
      AUTH_JWT_SECRET: JWT_SECRET,
      AUTH_JWT_ISSUER: ISSUER,
      AUTH_JWT_AUDIENCE: AUDIENCE,
    });
  const asUser = async (sub: string) =>
    ask(userEnv(), { authorization: `Bearer ${await signHs256(JWT_SECRET, { iss: ISSUER, aud: AUDIENCE, sub, exp: "5m" })}` });

  it("refuses a user at the quota with 429 before any credential is made, and serves another", async () => {
    graphql.userBytes.set("alice", 5 * GB);
    graphql.userBytes.set("bob", 1 * GB);
    const alice = await asUser("alice");
    expect(alice.status).toBe(429);
    expect(alice.body.error.code).toBe("user_quota_exceeded");
    expect(alice.response.headers.get("retry-after")).toBe(String(secondsToNextMonth()));
    expect(cloudflare.requests).toHaveLength(0);
    const bob = await asUser("bob");
    expect(bob.status).toBe(200);
    expect(cloudflare.requests.map((request) => JSON.parse(request.body).customIdentifier)).toEqual(["bob"]);
    // A user the analytics have not seen yet relayed nothing.
    expect((await asUser("carol")).status).toBe(200);
    // One per-user query served all three.
    expect(graphql.queries.users).toBe(1);
    const { variables, query } = JSON.parse(graphql.requests[0].body);
    expect(query).toContain("customIdentifier");
    expect(query).toContain("sum_egressBytes_DESC");
    expect(variables.keyId).toBe(KEY_ID);
  });

  it("serves the user when the per-user figures cannot be read", async () => {
    graphql.setFault({ kind: "bad-json" });
    const answer = await asUser("alice");
    expect(answer.status).toBe(200);
    expect(answer.events).toEqual(["usage_unavailable"]);
  });
});

describe("configuration", () => {
  const refused = (extra: Record<string, string>) => {
    try {
      parseConfig(env(extra));
    } catch (error) {
      return (error as Error).message;
    }
    return "accepted";
  };

  it("refuses a limit on a provider without a usage API, naming why", () => {
    const xirsys = { XIRSYS_IDENT: "i", XIRSYS_SECRET: secret("xirsys-spend-secret-Aa1Ss2Dd3"), XIRSYS_CHANNEL: "c" };
    expect(refused({ ...xirsys, TURN_PROVIDERS: "xirsys", TURN_MONTHLY_LIMITS: "xirsys:10GB" })).toMatch(/Xirsys documents no usage API/);
    const coturn = { TURN_SHARED_SECRET: secret("coturn-spend-secret-Qq1Ww2Ee3Rr4Tt5Yy6"), TURN_URLS: "turn:turn.example:3478" };
    expect(refused({ ...coturn, TURN_PROVIDERS: "shared-secret", TURN_MONTHLY_LIMITS: "shared-secret:10GB" })).toMatch(
      /coturn\) has no HTTP usage API/,
    );
  });

  it("names the missing analytics variables, never a value", () => {
    const message = refused({ CLOUDFLARE_ACCOUNT_ID: "", CLOUDFLARE_ANALYTICS_TOKEN: "" });
    expect(message).toMatch(/CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_ANALYTICS_TOKEN/);
    expect(refused({ METERED_SECRET_KEY: "", METERED_API_KEY: secret("metered-static-spend-Rr4Tt5") })).toMatch(/METERED_SECRET_KEY/);
    expect(refused({ TURN_MONTHLY_LIMITS: "cloudflare:lots" })).toMatch(/MB, GB or TB/);
    expect(refused({ TURN_MONTHLY_LIMITS: "cloudflare:1GB,cloudflare:2GB" })).toMatch(/twice/);
    expect(refused({ TURN_USER_MONTHLY_LIMIT: "5GB" })).toMatch(/AUTH_MODE=jwt/);
    expect(refused({ TURN_USAGE_REFRESH_S: "1" })).toMatch(/TURN_USAGE_REFRESH_S/);
  });
});
