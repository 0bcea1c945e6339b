/**
 * The provider chain's fault matrix, run by vitest and by Deno's test runner
 * alike (only node:assert is used): each fault on provider 1 with provider 2
 * healthy, every provider failing, and a slow provider 1 that must not be
 * abandoned too early. Every case checks the status, the code, the provider
 * that served, the time taken against the budget, and that no secret leaked.
 */
import assert from "node:assert/strict";
import { createService } from "../../shared/service.ts";
import type { Fetch } from "../../shared/upstream/upstream.ts";
import type { FakeCloudflare } from "../fake-cloudflare.ts";
import { isMeteredUsageRead, type FakeMetered } from "../fake-metered.ts";
import { TWILIO_DOCUMENTED_URLS, type FakeTwilio } from "../fake-twilio.ts";
import type { Fault } from "../fake-upstream.ts";
import type { FakeXirsys } from "../fake-xirsys.ts";
import { captureLog } from "../helpers/log.ts";
import { secret } from "../helpers/secrets.ts";

// This file's own instance of the service.
const { handle } = createService();

export const CHAIN_SECRETS = {
  cloudflareKeyId: "chainkey0123456789abcdef",
  cloudflareToken: secret("cf-chain-token-Q7wE9rT2yU4iO6pA"),
  meteredSecretKey: secret("metered-secret-Lk3Jh5Gf7Ds9Aq1Z"),
  meteredApiKey: secret("metered-static-apikey-Xc2Vb4Nm6"),
  sharedSecret: secret("chain-shared-secret-Rt5Yu7Io9Pa2Sd4F"),
  twilioAccountSid: `AC${"c0ffee".repeat(5)}01`,
  twilioAuthToken: secret("twilio-chain-auth-token-Wq3Er5Ty7Ui9"),
  xirsysIdent: "chainident",
  xirsysSecret: secret("xirsys-chain-secret-Pl0Ok9Ij8Uh7"),
  xirsysChannel: "ChainChannel",
  turnRestKey: secret("chain-turn-rest-api-key-Gh6Jk8Lz1Xc3"),
};
/** Identifiers, not secrets: they may appear in a request path. */
const NOT_SECRET = new Set(["cloudflareKeyId", "twilioAccountSid", "xirsysIdent", "xirsysChannel"]);
export const CHAIN_ATTEMPT_MS = 800;
export const CHAIN_TOTAL_MS = 2000;
// Room for the event loop and the fakes on a busy 2-core machine.
const SLACK_MS = 1000;

export interface ChainFakes {
  cloudflare: FakeCloudflare;
  metered: FakeMetered;
  twilio: FakeTwilio;
  xirsys: FakeXirsys;
  /** The upstream client under test: the global fetch when absent. */
  fetch?: Fetch;
  /**
   * A host's real entry point instead of the core in process: the host running on `env`, and how
   * to ask it for `path` (`logs`: what the host printed meanwhile).
   */
  host?: (env: Record<string, string>) => Promise<(path: string) => Promise<{ response: Response; logs: string[] }>>;
}

export function chainEnv(fakes: ChainFakes, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CLOUDFLARE_TURN_KEY_ID: CHAIN_SECRETS.cloudflareKeyId,
    CLOUDFLARE_TURN_KEY_API_TOKEN: CHAIN_SECRETS.cloudflareToken,
    CLOUDFLARE_TURN_API_BASE: fakes.cloudflare.apiBase,
    METERED_APP: fakes.metered.origin,
    METERED_SECRET_KEY: CHAIN_SECRETS.meteredSecretKey,
    TURN_SHARED_SECRET: CHAIN_SECRETS.sharedSecret,
    TURN_URLS: "stun:turn.example.test:3478,turn:turn.example.test:3478?transport=udp,turns:turn.example.test:443?transport=tcp",
    TWILIO_ACCOUNT_SID: CHAIN_SECRETS.twilioAccountSid,
    TWILIO_AUTH_TOKEN: CHAIN_SECRETS.twilioAuthToken,
    TWILIO_API_BASE: fakes.twilio.apiBase,
    XIRSYS_IDENT: CHAIN_SECRETS.xirsysIdent,
    XIRSYS_SECRET: CHAIN_SECRETS.xirsysSecret,
    XIRSYS_CHANNEL: CHAIN_SECRETS.xirsysChannel,
    XIRSYS_API_BASE: fakes.xirsys.apiBase,
    TURN_UPSTREAM_TIMEOUT_MS: String(CHAIN_ATTEMPT_MS),
    TURN_TOTAL_TIMEOUT_MS: String(CHAIN_TOTAL_MS),
    // The matrix asks from one caller (in process, the allowance all callers without an address
    // share) far more often than the default allows; the limit has its own tests.
    RATE_LIMIT: "10000/60s",
    ...extra,
  };
}

export interface ChainAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
  elapsedMs: number;
  logs: string[];
}

/** Calls the core with the chain's environment, capturing its log, and checks that nothing secret leaked. */
export async function ask(fakes: ChainFakes, extra: Record<string, string>, path = "/api/ice-servers"): Promise<ChainAnswer> {
  const log = captureLog();
  const env = chainEnv(fakes, extra);
  const send = fakes.host
    ? await fakes.host(env)
    : async () => ({ response: await handle(new Request(`http://localhost${path}`), env, { log, fetch: fakes.fetch }), logs: log.lines });
  const started = performance.now();
  const { response, logs } = await send(path);
  const text = await response.text();
  const elapsedMs = performance.now() - started;
  const everything = [text, ...logs, ...[...response.headers].map(([name, value]) => `${name}: ${value}`)].join("\n");
  for (const [name, secret] of Object.entries(CHAIN_SECRETS)) {
    if (NOT_SECRET.has(name)) continue;
    assert.ok(!everything.includes(secret), `${name} leaked into the answer or the log`);
  }
  return { status: response.status, headers: response.headers, text, json: JSON.parse(text), elapsedMs, logs };
}

export interface ChainCase {
  name: string;
  run(fakes: ChainFakes): Promise<void>;
}

type Side = "cloudflare" | "metered" | "twilio" | "xirsys";

function withinBudget(answer: ChainAnswer): void {
  assert.ok(answer.elapsedMs < CHAIN_TOTAL_MS + SLACK_MS, `took ${Math.round(answer.elapsedMs)} ms, past the ${CHAIN_TOTAL_MS} ms budget`);
}

/** Upstream calls a fault costs before the chain moves on: two when it is retried. */
function callsFor(fault: Fault): number {
  const networkFailure = fault.kind === "reset" || fault.kind === "truncated";
  const retriedStatus = fault.kind === "status" && (fault.status >= 500 || fault.status === 429) && !fault.headers?.["retry-after"];
  return networkFailure || retriedStatus ? 2 : 1;
}

const FAULTS: { name: string; fault: Fault }[] = [
  { name: "hang", fault: { kind: "hang" } },
  { name: "body that never finishes", fault: { kind: "stall-body" } },
  { name: "401", fault: { kind: "status", status: 401 } },
  { name: "403", fault: { kind: "status", status: 403 } },
  { name: "400", fault: { kind: "status", status: 400, body: '{"message":"bad"}' } },
  { name: "500", fault: { kind: "status", status: 500 } },
  { name: "503", fault: { kind: "status", status: 503 } },
  { name: "429 with a Retry-After past the budget", fault: { kind: "status", status: 429, headers: { "retry-after": "60" } } },
  { name: "bad JSON", fault: { kind: "bad-json" } },
  { name: "wrong shape", fault: { kind: "wrong-shape" } },
  { name: "truncated body", fault: { kind: "truncated" } },
  { name: "reset connection", fault: { kind: "reset" } },
  { name: "body over the size cap, with a Content-Length", fault: { kind: "oversized", chunked: false } },
  { name: "body over the size cap, chunked", fault: { kind: "oversized", chunked: true } },
];

function failoverCase(first: Side, second: Side, name: string, fault: Fault): ChainCase {
  return {
    name: `${first} ${name} → ${second} serves`,
    async run(fakes) {
      fakes[first].setFault(fault);
      const answer = await ask(fakes, { TURN_PROVIDERS: `${first},${second}` });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.json.provider, second);
      assert.ok(answer.json.iceServers.length > 0);
      assert.equal(fakes[first].requests.length, callsFor(fault), `calls to ${first}`);
      assert.equal(fakes[second].requests.length, 1, `calls to ${second}`);
      withinBudget(answer);
      if (fault.kind === "status" && (fault.status === 401 || fault.status === 403)) {
        assert.ok(
          answer.logs.some((line) => line.startsWith("OPERATOR:")),
          "a refused key is logged loudly for the operator",
        );
      }
    },
  };
}

// Every provider with an upstream fails over from every fault, and is failed over to.
const PAIRS: [Side, Side][] = [
  ["cloudflare", "metered"],
  ["metered", "cloudflare"],
  ["cloudflare", "twilio"],
  ["twilio", "xirsys"],
  ["xirsys", "cloudflare"],
];

/**
 * A provider answering a redirect (to another server that would record what reached it): an
 * upstream error like any other non-2xx, never followed, whatever the runtime's fetch would do.
 */
function redirectCase(status: 301 | 307): ChainCase {
  return {
    name: `cloudflare answering ${status} to another address → not followed, metered serves`,
    async run(fakes) {
      fakes.cloudflare.setFault({ kind: "status", status, headers: { location: `${fakes.twilio.origin}/elsewhere` } });
      const answer = await ask(fakes, { TURN_PROVIDERS: "cloudflare,metered" });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.json.provider, "metered");
      assert.equal(fakes.cloudflare.requests.length, 1, "a redirect is not retried");
      assert.equal(fakes.twilio.requests.length, 0, "the redirect was followed");
      assert.ok(
        answer.logs.some((line) => line.includes("Cloudflare failed: upstream_error")),
        answer.logs.join("\n"),
      );
    },
  };
}

export const chainCases: ChainCase[] = [
  ...PAIRS.flatMap(([first, second]) => FAULTS.map(({ name, fault }) => failoverCase(first, second, name, fault))),
  redirectCase(301),
  redirectCase(307),
  {
    name: "xirsys answering HTTP 200 with {s: error} → twilio serves",
    async run(fakes) {
      fakes.xirsys.setFault({ kind: "status", status: 200, body: '{"s":"error","v":"reason-chain-7"}' });
      const answer = await ask(fakes, { TURN_PROVIDERS: "xirsys,twilio" });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.json.provider, "twilio");
      assert.equal(fakes.xirsys.requests.length, 1, "a 200 is not retried");
      assert.ok(!answer.text.includes("reason-chain-7") && !answer.logs.some((line) => line.includes("reason-chain-7")));
      withinBudget(answer);
    },
  },
  {
    // The same variables as the case before, so a host already running them answers.
    name: "the TURN REST API is not served without TURN_REST_API_KEYS → 404 not_found, no upstream call",
    async run(fakes) {
      const answer = await ask(fakes, { TURN_PROVIDERS: "xirsys,twilio" }, "/api/ice-servers/turn-rest?service=turn&key=whatever-key");
      assert.equal(answer.status, 404, answer.text);
      assert.equal(answer.json.error.code, "not_found");
      assert.equal(fakes.xirsys.requests.length + fakes.twilio.requests.length, 0);
    },
  },
  {
    name: "TURN REST API: Cloudflare down → Twilio's credential, the TURN URLs that use it, and the ttl Twilio granted",
    async run(fakes) {
      fakes.cloudflare.setFault({ kind: "status", status: 500 });
      const key = encodeURIComponent(CHAIN_SECRETS.turnRestKey);
      const answer = await ask(
        fakes,
        { TURN_PROVIDERS: "cloudflare,twilio", TURN_TTL: "172800", TURN_REST_API_KEYS: CHAIN_SECRETS.turnRestKey },
        `/api/ice-servers/turn-rest?service=turn&key=${key}&username=room-7&ttl=172800`,
      );
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(Object.keys(answer.json).sort(), ["password", "ttl", "uris", "username"]);
      // Twilio's own: a 64-digit hex username and a base64 password, and the ttl it granted.
      assert.match(answer.json.username, /^[0-9a-f]{64}$/);
      assert.match(answer.json.password, /^[A-Za-z0-9+/]{32}$/);
      assert.equal(answer.json.ttl, 86_400);
      // Twilio gives each URL a server of its own, all with the one credential: every TURN one is kept.
      assert.ok(answer.json.uris.length > 1, answer.text);
      for (const uri of answer.json.uris) assert.ok(TWILIO_DOCUMENTED_URLS.includes(uri) && uri.startsWith("turn:"), uri);
      withinBudget(answer);
    },
  },
  {
    name: "each provider is asked for no more than its own limit, and the answer's ttl is what the one that served granted",
    async run(fakes) {
      fakes.cloudflare.setFault({ kind: "status", status: 500 });
      const answer = await ask(fakes, { TURN_PROVIDERS: "cloudflare,twilio", TURN_TTL: "172800" }, "/api/ice-servers?ttl=172800");
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.json.provider, "twilio");
      assert.equal(JSON.parse(fakes.cloudflare.requests[0].body).ttl, 172_800);
      assert.equal(fakes.twilio.requests[0].body, "Ttl=86400");
      assert.equal(answer.json.ttl, 86_400);
    },
  },
  {
    name: "Cloudflare and Metered both down → the shared secret serves, with no upstream call of its own",
    async run(fakes) {
      fakes.cloudflare.setFault({ kind: "status", status: 500 });
      fakes.metered.setFault({ kind: "reset" });
      const answer = await ask(fakes, { TURN_PROVIDERS: "cloudflare,metered,shared-secret" });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.json.provider, "shared-secret");
      withinBudget(answer);
    },
  },
  {
    name: "a slow but successful provider 1 is not abandoned",
    async run(fakes) {
      fakes.cloudflare.setFault({ kind: "latency", ms: CHAIN_ATTEMPT_MS - 300 });
      const answer = await ask(fakes, { TURN_PROVIDERS: "cloudflare,metered" });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.json.provider, "cloudflare");
      assert.equal(fakes.metered.requests.length, 0);
    },
  },
  {
    name: "a Retry-After that fits the budget is honoured, and the retry serves",
    async run(fakes) {
      fakes.cloudflare.queueFaults({ kind: "status", status: 429, headers: { "retry-after": "1" } });
      const answer = await ask(fakes, { TURN_PROVIDERS: "cloudflare,metered" });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.json.provider, "cloudflare");
      assert.equal(fakes.cloudflare.requests.length, 2);
      assert.ok(answer.elapsedMs >= 950, `waited only ${Math.round(answer.elapsedMs)} ms of a 1 s Retry-After`);
    },
  },
  {
    name: "every provider failing: a refused key is the most telling failure",
    async run(fakes) {
      fakes.cloudflare.setFault({ kind: "status", status: 500 });
      fakes.metered.setFault({ kind: "status", status: 401, body: `{"message":"Invalid secretKey ${CHAIN_SECRETS.meteredSecretKey}"}` });
      const answer = await ask(fakes, { TURN_PROVIDERS: "cloudflare,metered" });
      assert.equal(answer.status, 502, answer.text);
      assert.equal(answer.json.error.code, "upstream_unauthorized");
      withinBudget(answer);
    },
  },
  {
    name: "every provider failing: a 429 with its Retry-After beats a timeout",
    async run(fakes) {
      fakes.cloudflare.setFault({ kind: "status", status: 429, headers: { "retry-after": "120" } });
      fakes.metered.setFault({ kind: "hang" });
      const answer = await ask(fakes, { TURN_PROVIDERS: "cloudflare,metered" });
      assert.equal(answer.status, 503, answer.text);
      assert.equal(answer.json.error.code, "upstream_rate_limited");
      assert.equal(answer.headers.get("retry-after"), "120");
      withinBudget(answer);
    },
  },
  {
    name: "every provider hanging: 504 inside the overall budget",
    async run(fakes) {
      fakes.cloudflare.setFault({ kind: "hang" });
      fakes.metered.setFault({ kind: "hang" });
      const answer = await ask(fakes, { TURN_PROVIDERS: "cloudflare,metered" });
      assert.equal(answer.status, 504, answer.text);
      assert.equal(answer.json.error.code, "upstream_timeout");
      withinBudget(answer);
      assert.ok(answer.elapsedMs >= 2 * CHAIN_ATTEMPT_MS - 50, "each provider had its attempt");
    },
  },
  {
    name: "every provider failing with TURN_FALLBACK_STUN: a degraded STUN-only 200",
    async run(fakes) {
      fakes.cloudflare.setFault({ kind: "status", status: 503 });
      fakes.metered.setFault({ kind: "status", status: 500 });
      const answer = await ask(fakes, { TURN_PROVIDERS: "cloudflare,metered", TURN_FALLBACK_STUN: "true" });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.json.provider, "none");
      assert.equal(answer.json.degraded, true);
      assert.deepEqual(answer.json.iceServers, [{ urls: ["stun:stun.cloudflare.com:3478"] }]);
    },
  },
  {
    // One case, so that the figures an instance holds for a month stay the same throughout.
    name: "spending limits: Metered over its limit is skipped and Twilio serves; both over → 503 spend_limit_reached",
    async run(fakes) {
      fakes.metered.usage = { quotaInGB: 150, usageInGB: 45 };
      fakes.twilio.usage = { megabytes: "10000", unit: "megabytes" };
      const spend = { TURN_PROVIDERS: "metered,twilio", TURN_USAGE_REFRESH_S: "600" };
      const failover = await ask(fakes, { ...spend, TURN_MONTHLY_LIMITS: "metered:40GB,twilio:50GB" });
      assert.equal(failover.status, 200, failover.text);
      assert.equal(failover.json.provider, "twilio");
      assert.ok(!fakes.metered.requests.some((request) => !isMeteredUsageRead(request)), "no credential asked of Metered");
      withinBudget(failover);
      const none = await ask(fakes, { ...spend, TURN_MONTHLY_LIMITS: "metered:40GB,twilio:5GB" });
      assert.equal(none.status, 503, none.text);
      assert.equal(none.json.error.code, "spend_limit_reached");
      // Metered's billing cycle is not known: the sooner of its next reading and Twilio's next month.
      assert.equal(none.headers.get("retry-after"), "600");
      withinBudget(none);
    },
  },
  {
    name: "a healthy answer carries no degraded flag",
    async run(fakes) {
      const answer = await ask(fakes, { TURN_PROVIDERS: "cloudflare", TURN_FALLBACK_STUN: "true" });
      assert.equal(answer.json.provider, "cloudflare");
      assert.equal("degraded" in answer.json, false);
    },
  },
];
