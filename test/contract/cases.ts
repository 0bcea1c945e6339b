/**
 * The HTTP contract of /api/ice-servers, as one list of cases that every entry point
 * must pass: the Netlify function under `netlify dev`, the Vercel function under
 * @vercel/node's dev server, `npm start`, and the edge function under Deno.
 * Only node:assert is used, so vitest and Deno's test runner both run it.
 */
import assert from "node:assert/strict";
import type { FakeCloudflare } from "../fake-cloudflare.ts";
import { secret } from "../helpers/secrets.ts";

export const CONTRACT_MAX_TTL = 7200;
export const CONTRACT_TIMEOUT_MS = 1500;
// Short enough that a Retry-After of 7 s does not fit, so the 503 is passed on at once.
export const CONTRACT_TOTAL_TIMEOUT_MS = 3000;
export const CONTRACT_KEY_ID = "c0ffee0123456789abcdef0123456789";
// Looks like a real token so a leak would be easy to spot, and is unique to this suite.
export const CONTRACT_TOKEN = secret("cf-test-token-Zx81qLmN4vB7tY2uP0sRk9wE");
export const CONTRACT_REVOKE_SECRET = secret("contract-revoke-signing-secret-Hg5Fd3Sa1");

/** The environment every entry point runs the contract with. */
export function contractEnv(fake: FakeCloudflare): Record<string, string> {
  return {
    CLOUDFLARE_TURN_KEY_ID: CONTRACT_KEY_ID,
    CLOUDFLARE_TURN_KEY_API_TOKEN: CONTRACT_TOKEN,
    CLOUDFLARE_TURN_API_BASE: fake.apiBase,
    TURN_TTL: String(CONTRACT_MAX_TTL),
    TURN_UPSTREAM_TIMEOUT_MS: String(CONTRACT_TIMEOUT_MS),
    TURN_TOTAL_TIMEOUT_MS: String(CONTRACT_TOTAL_TIMEOUT_MS),
    // Every case comes from one address; the limiter has suites of its own.
    RATE_LIMIT: "10000/60s",
    REVOKE_SIGNING_SECRET: CONTRACT_REVOKE_SECRET,
  };
}

export interface ContractTarget {
  /** Sends a request to `path` (such as "/api/ice-servers?ttl=60") on the entry point. */
  send(path: string, init?: RequestInit): Promise<Response>;
  fake: FakeCloudflare;
}

export interface ContractCase {
  name: string;
  /** The status the case expects from the function, where one status is the point of the case. */
  status?: number;
  /** Sends a request-target that is not a plain path, which a dev server may act on before the function sees it. */
  hostileTarget?: boolean;
  run(target: ContractTarget): Promise<void>;
}

const PATH = "/api/ice-servers";
// Slack for a dev server's own overhead on top of the upstream budget.
const BUDGET_SLACK_MS = 2500;

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
  elapsedMs: number;
}

async function call(target: ContractTarget, path: string, init?: RequestInit): Promise<Answer> {
  const started = performance.now();
  const response = await target.send(path, init);
  const text = await response.text();
  const elapsedMs = performance.now() - started;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    assert.fail(`expected a JSON body, got ${response.status}: ${text.slice(0, 200)}`);
  }
  // What holds for every answer, good or bad.
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  assert.ok(!text.includes(CONTRACT_TOKEN), "the API token leaked into a body");
  for (const [name, value] of response.headers) {
    assert.ok(!value.includes(CONTRACT_TOKEN), `the API token leaked into the ${name} header`);
  }
  return { status: response.status, headers: response.headers, text, json, elapsedMs };
}

function assertError(answer: Answer, status: number, code: string): void {
  assert.equal(answer.status, status, `expected ${status} ${code}, got ${answer.status}: ${answer.text}`);
  assert.deepEqual(Object.keys(answer.json), ["error"]);
  assert.deepEqual(Object.keys(answer.json.error).sort(), ["code", "message"]);
  assert.equal(answer.json.error.code, code);
  assert.equal(typeof answer.json.error.message, "string");
  assert.ok(answer.json.error.message.length > 0);
}

function assertNoUpstreamCall(target: ContractTarget): void {
  assert.equal(target.fake.requests.length, 0, "bad input must not reach the upstream");
}

const json = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

function badInput(name: string, path: string, init: RequestInit | undefined, status: number, code: string): ContractCase {
  return {
    name: `bad input: ${name} → ${status} ${code}`,
    status,
    async run(target) {
      assertError(await call(target, path, init), status, code);
      assertNoUpstreamCall(target);
    },
  };
}

/** `calls`: 2 where the fault is retried (network failures, 5xx, 429 whose Retry-After fits), else 1. */
function upstreamFault(
  name: string,
  fault: Parameters<FakeCloudflare["setFault"]>[0],
  status: number,
  code: string,
  calls: 1 | 2,
  extra?: (a: Answer) => void,
): ContractCase {
  return {
    name: `upstream ${name} → ${status} ${code}`,
    async run(target) {
      target.fake.setFault(fault);
      const answer = await call(target, PATH);
      assertError(answer, status, code);
      assert.equal(target.fake.requests.length, calls, `${calls} upstream call(s)`);
      extra?.(answer);
    },
  };
}

function assertWithinBudget(answer: Answer): void {
  assert.ok(answer.elapsedMs >= CONTRACT_TIMEOUT_MS - 100, `answered after ${answer.elapsedMs} ms, before the budget ran out`);
  assert.ok(answer.elapsedMs < CONTRACT_TIMEOUT_MS + BUDGET_SLACK_MS, `answered after ${answer.elapsedMs} ms, well past the budget`);
}

export const contractCases: ContractCase[] = [
  {
    name: "GET answers 200 with browser-ready ICE servers from Cloudflare",
    async run(target) {
      const before = Date.now();
      const answer = await call(target, PATH);
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(Object.keys(answer.json).sort(), ["expiresAt", "iceServers", "provider", "revokeToken", "ttl"]);
      assert.equal(answer.json.provider, "cloudflare");
      assert.equal(answer.json.ttl, CONTRACT_MAX_TTL);
      const expiresAt = Date.parse(answer.json.expiresAt);
      assert.ok(expiresAt >= before + CONTRACT_MAX_TTL * 1000 - 1000 && expiresAt <= Date.now() + CONTRACT_MAX_TTL * 1000 + 1000);
      assert.equal(answer.json.iceServers.length, 2);
      const [stun, turn] = answer.json.iceServers;
      assert.deepEqual(stun, { urls: ["stun:stun.cloudflare.com:3478"] });
      // The compact default (TURN_URL_SET): one URL per transport, web ports for TCP and TLS.
      assert.deepEqual(turn.urls, [
        "turn:turn.cloudflare.com:3478?transport=udp",
        "turn:turn.cloudflare.com:80?transport=tcp",
        "turns:turn.cloudflare.com:443?transport=tcp",
      ]);
      assert.match(turn.username, /^[0-9a-f]{96}$/);
      assert.match(turn.credential, /^[0-9a-f]{96}$/);

      assert.equal(target.fake.requests.length, 1);
      const [sent] = target.fake.requests;
      assert.equal(sent.method, "POST");
      assert.equal(sent.path, `/v1/turn/keys/${CONTRACT_KEY_ID}/credentials/generate-ice-servers`);
      assert.equal(sent.headers.authorization, `Bearer ${CONTRACT_TOKEN}`);
      assert.match(sent.headers["content-type"], /^application\/json/);
      assert.deepEqual(JSON.parse(sent.body), { ttl: CONTRACT_MAX_TTL });
    },
  },
  {
    name: "GET ?ttl=N asks Cloudflare for that TTL",
    async run(target) {
      const answer = await call(target, `${PATH}?ttl=60`);
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.json.ttl, 60);
      assert.deepEqual(JSON.parse(target.fake.requests[0].body), { ttl: 60 });
    },
  },
  {
    name: "POST {ttl} asks Cloudflare for that TTL, up to the configured maximum",
    async run(target) {
      const answer = await call(target, PATH, json({ ttl: CONTRACT_MAX_TTL }));
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.json.ttl, CONTRACT_MAX_TTL);
      assert.deepEqual(JSON.parse(target.fake.requests[0].body), { ttl: CONTRACT_MAX_TTL });
    },
  },
  {
    name: "POST with an empty body uses the default TTL",
    async run(target) {
      const answer = await call(target, PATH, { method: "POST" });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.json.ttl, CONTRACT_MAX_TTL);
    },
  },
  {
    name: "the older single-object Cloudflare answer is accepted",
    async run(target) {
      target.fake.setFault({
        kind: "status",
        status: 201,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          iceServers: {
            urls: ["turn:turn.cloudflare.com:3478?transport=udp", "turn:turn.cloudflare.com:53?transport=udp"],
            username: "1738035200:user123",
            credential: "aGVsbG8=",
          },
        }),
      });
      const answer = await call(target, PATH);
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(answer.json.iceServers, [
        { urls: ["turn:turn.cloudflare.com:3478?transport=udp"], username: "1738035200:user123", credential: "aGVsbG8=" },
      ]);
    },
  },
  {
    name: "an upstream answer a little slow but inside the budget is served",
    async run(target) {
      target.fake.setFault({ kind: "latency", ms: 300 });
      const answer = await call(target, PATH);
      assert.equal(answer.status, 200, answer.text);
    },
  },
  badInput(
    "ttl above the configured maximum is refused, not clamped",
    `${PATH}?ttl=${CONTRACT_MAX_TTL + 1}`,
    undefined,
    400,
    "invalid_ttl",
  ),
  badInput("ttl=0", `${PATH}?ttl=0`, undefined, 400, "invalid_ttl"),
  badInput("ttl=-5", `${PATH}?ttl=-5`, undefined, 400, "invalid_ttl"),
  badInput("ttl=1.5", `${PATH}?ttl=1.5`, undefined, 400, "invalid_ttl"),
  badInput("ttl=abc", `${PATH}?ttl=abc`, undefined, 400, "invalid_ttl"),
  badInput("empty ttl", `${PATH}?ttl=`, undefined, 400, "invalid_ttl"),
  badInput("ttl given twice", `${PATH}?ttl=60&ttl=70`, undefined, 400, "invalid_ttl"),
  badInput("an unknown query parameter", `${PATH}?ttl=60&admin=1`, undefined, 400, "invalid_request"),
  badInput("POST ttl above the maximum", PATH, json({ ttl: CONTRACT_MAX_TTL + 1 }), 400, "invalid_ttl"),
  badInput("POST ttl as a string", PATH, json({ ttl: "60" }), 400, "invalid_ttl"),
  badInput("POST an unknown field", PATH, json({ ttl: 60, username: "x" }), 400, "invalid_request"),
  badInput("POST a JSON array", PATH, json([60]), 400, "invalid_request"),
  badInput("POST malformed JSON", PATH, json('{"ttl": '), 400, "invalid_json"),
  badInput(
    "POST text/plain",
    PATH,
    { method: "POST", headers: { "content-type": "text/plain" }, body: "ttl=60" },
    415,
    "unsupported_media_type",
  ),
  badInput(
    "POST form data",
    PATH,
    { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "ttl=60" },
    415,
    "unsupported_media_type",
  ),
  badInput("POST over 4 KiB", PATH, json({ ttl: 60, pad: "x".repeat(5000) }), 413, "payload_too_large"),
  {
    name: "bad input: PUT → 405 with Allow",
    async run(target) {
      const answer = await call(target, PATH, { method: "PUT", headers: { "content-type": "application/json" }, body: "{}" });
      assertError(answer, 405, "method_not_allowed");
      assert.equal(answer.headers.get("allow"), "GET, POST, OPTIONS");
      assertNoUpstreamCall(target);
    },
  },
  {
    name: "bad input: DELETE → 405 with Allow",
    async run(target) {
      const answer = await call(target, PATH, { method: "DELETE" });
      assertError(answer, 405, "method_not_allowed");
      assert.equal(answer.headers.get("allow"), "GET, POST, OPTIONS");
      assertNoUpstreamCall(target);
    },
  },
  badInput(
    "a cross-site no-cors GET (Sec-Fetch-Site: cross-site, no Origin)",
    PATH,
    { headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "image" } },
    403,
    "origin_not_allowed",
  ),
  badInput(
    "a navigation from another site (Sec-Fetch-Site: cross-site, no Origin)",
    PATH,
    { headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" } },
    403,
    "origin_not_allowed",
  ),
  badInput(
    "a same-site no-cors GET without Origin",
    PATH,
    { headers: { "sec-fetch-site": "same-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "script" } },
    403,
    "origin_not_allowed",
  ),
  badInput(
    "a cross-site POST whose Origin is not allowed",
    PATH,
    {
      ...json({ ttl: 60 }),
      headers: { "content-type": "application/json", origin: "https://evil.example", "sec-fetch-site": "cross-site" },
    },
    403,
    "origin_not_allowed",
  ),
  {
    name: "Fetch Metadata: same-origin, address-bar (none) and non-browser requests are served",
    async run(target) {
      for (const site of ["same-origin", "none", undefined]) {
        const answer = await call(target, PATH, { headers: site ? { "sec-fetch-site": site } : {} });
        assert.equal(answer.status, 200, `Sec-Fetch-Site ${site}: ${answer.text}`);
      }
    },
  },
  {
    name: "bad input: a request-target //evil.example/… with Origin https://evil.example → 400 invalid_request, no CORS",
    status: 400,
    hostileTarget: true,
    async run(target) {
      const answer = await call(target, `//evil.example${PATH}`, { headers: { origin: "https://evil.example" } });
      assertError(answer, 400, "invalid_request");
      assert.equal(answer.headers.get("access-control-allow-origin"), null);
      assertNoUpstreamCall(target);
    },
  },
  upstreamFault(
    "401",
    { kind: "status", status: 401, body: `{"errors":[{"message":"bad token ${CONTRACT_TOKEN}"}]}` },
    502,
    "upstream_unauthorized",
    1,
    (answer) => {
      assert.ok(!answer.text.includes("bad token"), "the upstream body must not be echoed");
    },
  ),
  upstreamFault("403", { kind: "status", status: 403 }, 502, "upstream_unauthorized", 1),
  upstreamFault("400", { kind: "status", status: 400, body: '{"errors":[{"message":"ttl"}]}' }, 502, "upstream_error", 1),
  upstreamFault("500, retried once", { kind: "status", status: 500 }, 502, "upstream_error", 2),
  upstreamFault(
    "429 with a Retry-After past the budget",
    { kind: "status", status: 429, headers: { "retry-after": "7" } },
    503,
    "upstream_rate_limited",
    1,
    (answer) => {
      assert.equal(answer.headers.get("retry-after"), "7");
    },
  ),
  upstreamFault(
    "503 with a Retry-After past the budget",
    { kind: "status", status: 503, headers: { "retry-after": "30" } },
    503,
    "upstream_unavailable",
    1,
    (answer) => {
      assert.equal(answer.headers.get("retry-after"), "30");
    },
  ),
  upstreamFault("bad JSON", { kind: "bad-json" }, 502, "upstream_invalid_response", 1),
  upstreamFault("wrong shape", { kind: "wrong-shape" }, 502, "upstream_invalid_response", 1),
  upstreamFault("truncated body, retried once", { kind: "truncated" }, 502, "upstream_unreachable", 2),
  upstreamFault("connection reset, retried once", { kind: "reset" }, 502, "upstream_unreachable", 2),
  upstreamFault(
    "body over the size cap, with a Content-Length",
    { kind: "oversized", chunked: false },
    502,
    "upstream_invalid_response",
    1,
  ),
  upstreamFault("body over the size cap, chunked", { kind: "oversized", chunked: true }, 502, "upstream_invalid_response", 1),
  upstreamFault("hang, not retried", { kind: "hang" }, 504, "upstream_timeout", 1, assertWithinBudget),
  upstreamFault("body that never finishes", { kind: "stall-body" }, 504, "upstream_timeout", 1, assertWithinBudget),
  {
    name: "the revokeToken of an answer revokes that credential at Cloudflare, and again is 204",
    async run(target) {
      const issued = await call(target, PATH);
      assert.equal(issued.status, 200, issued.text);
      const username = issued.json.iceServers[1].username;
      const revokeRequest = () => ({
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ revokeToken: issued.json.revokeToken }),
      });
      for (let i = 0; i < 2; i += 1) {
        const response = await target.send(`${PATH}/revoke`, revokeRequest());
        assert.equal(response.status, 204, await response.text());
        assert.equal(response.headers.get("cache-control"), "no-store");
      }
      assert.ok(target.fake.revoked.has(username), "the fake Cloudflare recorded the revoke");
      assert.equal(target.fake.requests.filter((r) => r.path.endsWith("/revoke")).length, 2);
    },
  },
  {
    name: "bad input: a tampered revoke token → 403 invalid_revoke_token, no upstream call",
    status: 403,
    async run(target) {
      const issued = await call(target, PATH);
      target.fake.reset();
      const [payload, signature] = issued.json.revokeToken.split(".");
      const forged = `${payload.slice(0, -2)}AA.${signature}`;
      const answer = await call(target, `${PATH}/revoke`, json({ revokeToken: forged }));
      assertError(answer, 403, "invalid_revoke_token");
      assertNoUpstreamCall(target);
    },
  },
  {
    name: "upstream 503 then success: the retry serves the request",
    async run(target) {
      target.fake.queueFaults({ kind: "status", status: 503 });
      const answer = await call(target, PATH);
      assert.equal(answer.status, 200, answer.text);
      assert.equal(target.fake.requests.length, 2);
    },
  },
];
