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
/** TURN_REST_API_KEYS: the first for every case, the second spent by the rate-limit case alone. */
export const CONTRACT_TURN_REST_KEY = secret("contract-turn-rest-key-Vb8Nm2Qw4Er6Ty");
export const CONTRACT_TURN_REST_SPENT_KEY = secret("contract-turn-rest-spent-key-Ui3Op5As7");
// Each TURN REST API key is a caller of its own: the rate-limit case spends one key's allowance.
// Above what the rest of the contract sends from its one address (about 60 requests), low enough
// to spend in a few seconds through the slowest dev server.
export const CONTRACT_RATE_LIMIT = 100;

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
    RATE_LIMIT: `${CONTRACT_RATE_LIMIT}/60s`,
    REVOKE_SIGNING_SECRET: CONTRACT_REVOKE_SECRET,
    TURN_REST_API_KEYS: `${CONTRACT_TURN_REST_KEY},${CONTRACT_TURN_REST_SPENT_KEY}`,
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
  /**
   * Sends a form-encoded POST without an Origin, as a server (Janus) does: a framework's own CSRF
   * check (SvelteKit's, Astro's) refuses one before the route runs.
   */
  formPost?: boolean;
  /** For a case that sends many requests: its own time limit, in milliseconds. */
  timeoutMs?: number;
  /** Needs the instance's memory to last from one request to the next (a rate limit spent in the memory store). */
  spendsMemoryAllowance?: boolean;
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
  for (const secretValue of [CONTRACT_TOKEN, CONTRACT_TURN_REST_KEY, CONTRACT_TURN_REST_SPENT_KEY]) {
    assert.ok(!text.includes(secretValue), "a secret leaked into a body");
    for (const [name, value] of response.headers) assert.ok(!value.includes(secretValue), `a secret leaked into the ${name} header`);
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
  ...turnRestCases(),
];

/** {basePath}/turn-rest, the TURN REST API for servers (draft-uberti-behave-turn-rest-00). */
function turnRestCases(): ContractCase[] {
  const TR = `${PATH}/turn-rest`;
  const key = encodeURIComponent(CONTRACT_TURN_REST_KEY);
  const form = (body: string, headers: Record<string, string> = {}): RequestInit => ({
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body,
  });
  const CLOUDFLARE_TURN_URIS = [
    "turn:turn.cloudflare.com:3478?transport=udp",
    "turn:turn.cloudflare.com:80?transport=tcp",
    "turns:turn.cloudflare.com:443?transport=tcp",
  ];

  /** The draft's answer, field by field, with no CORS header: what Janus checks, and more. */
  function assertDraftAnswer(answer: Answer, ttl: number): void {
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(Object.keys(answer.json).sort(), ["password", "ttl", "uris", "username"]);
    assert.equal(typeof answer.json.username, "string");
    assert.match(answer.json.username, /^[0-9a-f]{96}$/);
    assert.equal(typeof answer.json.password, "string");
    assert.match(answer.json.password, /^[0-9a-f]{96}$/);
    assert.ok(Number.isInteger(answer.json.ttl), "ttl is an integer");
    assert.equal(answer.json.ttl, ttl);
    // TURN only: STUN takes no credential, and Janus drops anything but turn: and turns:.
    assert.deepEqual(answer.json.uris, CLOUDFLARE_TURN_URIS);
    assert.equal(answer.headers.get("access-control-allow-origin"), null);
  }

  function assertAsked(target: ContractTarget, body: Record<string, unknown>): void {
    assert.equal(target.fake.requests.length, 1);
    assert.deepEqual(JSON.parse(target.fake.requests[0].body), body);
  }

  const refused = (name: string, path: string, init: RequestInit | undefined, status: number, code: string): ContractCase => ({
    name: `TURN REST API: ${name} → ${status} ${code}`,
    status,
    formPost: init !== undefined && new Headers(init.headers).get("content-type") === "application/x-www-form-urlencoded",
    async run(target) {
      const answer = await call(target, path, init);
      assertError(answer, status, code);
      assert.equal(answer.headers.get("access-control-allow-origin"), null);
      assertNoUpstreamCall(target);
    },
  });

  return [
    {
      name: "TURN REST API: GET with key= and username= answers the draft's fields, the username as Cloudflare's customIdentifier",
      async run(target) {
        const answer = await call(target, `${TR}?service=turn&username=janus-handle-1&key=${key}`);
        assertDraftAnswer(answer, CONTRACT_MAX_TTL);
        assertAsked(target, { ttl: CONTRACT_MAX_TTL, customIdentifier: "janus-handle-1" });
      },
    },
    {
      name: "TURN REST API: GET with api= and ttl= asks for that TTL",
      async run(target) {
        const answer = await call(target, `${TR}?service=turn&api=${key}&ttl=60`);
        assertDraftAnswer(answer, 60);
        assertAsked(target, { ttl: 60 });
      },
    },
    {
      name: "TURN REST API: POST as Janus sends it (the same fields in the query and the form body, api and key both)",
      formPost: true,
      async run(target) {
        const fields = `service=turn&api=${key}&key=${key}&username=4417253870261533`;
        const answer = await call(target, `${TR}?${fields}`, form(fields));
        assertDraftAnswer(answer, CONTRACT_MAX_TTL);
        assertAsked(target, { ttl: CONTRACT_MAX_TTL, customIdentifier: "4417253870261533" });
      },
    },
    {
      name: "TURN REST API: POST with the fields in the form body alone and the key as Authorization: Bearer",
      formPost: true,
      async run(target) {
        const answer = await call(target, TR, form("service=turn&ttl=120", { authorization: `Bearer ${CONTRACT_TURN_REST_KEY}` }));
        assertDraftAnswer(answer, 120);
        assertAsked(target, { ttl: 120 });
      },
    },
    refused("no key", `${TR}?service=turn`, undefined, 401, "unauthorized"),
    refused("a wrong key", `${TR}?service=turn&key=${"x".repeat(40)}`, undefined, 401, "unauthorized"),
    refused("key and api that differ", `${TR}?service=turn&key=${key}&api=${"x".repeat(40)}`, undefined, 401, "unauthorized"),
    refused("a POST whose key is wrong", TR, form(`service=turn&key=${"y".repeat(40)}`), 401, "unauthorized"),
    refused(
      "an Origin, even with the right key",
      `${TR}?service=turn&key=${key}`,
      { headers: { origin: "http://localhost" } },
      403,
      "origin_not_allowed",
    ),
    refused(
      "a cross-site request without an Origin",
      `${TR}?service=turn&key=${key}`,
      { headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors" } },
      403,
      "origin_not_allowed",
    ),
    refused(
      "a CORS preflight",
      TR,
      { method: "OPTIONS", headers: { origin: "https://app.example", "access-control-request-method": "GET" } },
      403,
      "origin_not_allowed",
    ),
    refused("service other than turn", `${TR}?service=stun&key=${key}`, undefined, 400, "invalid_request"),
    refused("no service", `${TR}?key=${key}`, undefined, 400, "invalid_request"),
    refused("a username of 129 characters", `${TR}?service=turn&key=${key}&username=${"u".repeat(129)}`, undefined, 400, "invalid_request"),
    refused("a username with a control character", `${TR}?service=turn&key=${key}&username=a%0Ab`, undefined, 400, "invalid_request"),
    refused("ttl above the configured maximum", `${TR}?service=turn&key=${key}&ttl=${CONTRACT_MAX_TTL + 1}`, undefined, 400, "invalid_ttl"),
    refused("ttl=abc", `${TR}?service=turn&key=${key}&ttl=abc`, undefined, 400, "invalid_ttl"),
    refused("an unknown field", `${TR}?service=turn&key=${key}&realm=x`, undefined, 400, "invalid_request"),
    refused("a field twice with different values", TR, form(`service=turn&key=${key}&username=a&username=b`), 400, "invalid_request"),
    refused("a JSON body", TR, json({ service: "turn", key: CONTRACT_TURN_REST_KEY }), 415, "unsupported_media_type"),
    ...["PUT", "OPTIONS"].map(
      (method): ContractCase => ({
        name: `TURN REST API: ${method} without an Origin → 405, Allow: GET, POST`,
        status: 405,
        async run(target) {
          const answer = await call(target, `${TR}?service=turn&key=${key}`, { method });
          assertError(answer, 405, "method_not_allowed");
          assert.equal(answer.headers.get("allow"), "GET, POST");
          assertNoUpstreamCall(target);
        },
      }),
    ),
    {
      name: "TURN REST API: a key past RATE_LIMIT → 429 with Retry-After, while another key is still served",
      timeoutMs: 60_000,
      spendsMemoryAllowance: true,
      async run(target) {
        const spent = `${TR}?service=stun&key=${encodeURIComponent(CONTRACT_TURN_REST_SPENT_KEY)}`;
        // service=stun: counted, then refused before any upstream call. An instance that ran the
        // contract before (Deno runs it twice in one process) may refuse from the first request.
        let refusal: Answer | undefined;
        let answered = 0;
        const BATCH = 25;
        while (!refusal && answered <= CONTRACT_RATE_LIMIT) {
          const batch = await Promise.all(Array.from({ length: BATCH }, () => call(target, spent)));
          for (const answer of batch) {
            if (answer.status === 429) refusal ??= answer;
            else assertError(answer, 400, "invalid_request");
          }
          answered += batch.filter((answer) => answer.status !== 429).length;
        }
        assert.ok(refusal, `no 429 after ${answered} requests with one key`);
        assert.ok(answered <= CONTRACT_RATE_LIMIT, `${answered} requests were let through, past the limit of ${CONTRACT_RATE_LIMIT}`);
        assertError(refusal, 429, "rate_limited");
        assert.match(refusal.headers.get("retry-after") ?? "", /^[1-9]\d*$/);
        assertDraftAnswer(await call(target, `${TR}?service=turn&key=${key}`), CONTRACT_MAX_TTL);
      },
    },
  ];
}
