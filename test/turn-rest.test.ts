/**
 * {basePath}/turn-rest through the core: what the contract cannot show from one host started
 * once (the route unset, its keys misconfigured, failures counted against an address, keys as
 * callers of their own), and the shared-secret credential a TURN server checks.
 */
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { HandleOptions } from "../shared/handle.ts";
import { createService, type Service } from "../shared/service.ts";
import { startFakeCloudflare, type FakeCloudflare } from "./fake-cloudflare.ts";
import { captureLog } from "./helpers/log.ts";
import { registeredSecrets, secret } from "./helpers/secrets.ts";

const KEY = secret("turn-rest-test-key-Aq1Sw2De3Fr4Gt5Hy6");
const OTHER_KEY = secret("turn-rest-test-other-key-Ju7Ki8Lo9Pm0");
const TURN_SECRET = secret("turn-rest-test-shared-secret-Zx9Cv8");
const CF_TOKEN = secret("turn-rest-test-cf-token-Bn7Mq6Wv5");
const PATH = "/api/ice-servers/turn-rest";

const SHARED_SECRET_ENV = {
  TURN_SHARED_SECRET: TURN_SECRET,
  TURN_URLS: "stun:127.0.0.1:3478,turn:127.0.0.1:3478?transport=udp,turn:127.0.0.1:3478?transport=tcp",
  TURN_REST_API_KEYS: `${KEY},${OTHER_KEY}`,
  LOG_FORMAT: "json",
};

let cloudflare: FakeCloudflare;
beforeAll(async () => {
  cloudflare = await startFakeCloudflare({ keyId: "kid", apiToken: CF_TOKEN });
});
afterAll(() => cloudflare.close());

// Each test its own instance of the service: nothing a test counted is seen by the next.
let handle: Service["handle"];
beforeEach(() => {
  handle = createService().handle;
});
const ADDRESS = "198.51.100.1";
const OTHER_ADDRESS = "198.51.100.2";

async function ask(env: Record<string, string>, path: string, options: HandleOptions & { init?: RequestInit } = {}) {
  const log = captureLog();
  const response = await handle(new Request(`https://site.example${path}`, options.init), env, { log, ...options });
  const text = await response.text();
  const everything = [text, ...log.lines, ...[...response.headers].map(([name, value]) => `${name}: ${value}`)].join("\n");
  for (const value of registeredSecrets()) expect(everything).not.toContain(value);
  return { status: response.status, headers: response.headers, body: JSON.parse(text), lines: log.lines };
}

const withKey = (key: string, extra = "") => `${PATH}?service=turn&key=${encodeURIComponent(key)}${extra}`;

describe("TURN REST API route", () => {
  it("is not served while TURN_REST_API_KEYS is unset: 404 not_found, whatever is asked", async () => {
    const { TURN_REST_API_KEYS: _, ...unset } = SHARED_SECRET_ENV;
    for (const init of [{}, { method: "POST" }, { method: "OPTIONS", headers: { origin: "https://app.example" } }]) {
      const answer = await ask(unset, withKey(KEY), { init });
      expect([answer.status, answer.body.error.code]).toEqual([404, "not_found"]);
    }
  });

  it.each([
    ["shorter than 32 characters", `${KEY},short-key`],
    ["with a space", `${KEY},key with spaces in it that is long enough`],
    ["an empty entry", `${KEY},,${OTHER_KEY}`],
  ])("refuses TURN_REST_API_KEYS with an entry %s, naming the variable and never the value", async (_, keys) => {
    const answer = await ask({ ...SHARED_SECRET_ENV, TURN_REST_API_KEYS: keys }, withKey(KEY));
    expect([answer.status, answer.body.error.code]).toEqual([500, "invalid_config"]);
    expect(answer.body.error.message).toMatch(/^TURN_REST_API_KEYS entry \d/);
    for (const part of keys.split(",")) if (part) expect(answer.body.error.message).not.toContain(part);
  });

  it("answers a credential coturn's use-auth-secret accepts: <expiry>:<username> and its HMAC-SHA1", async () => {
    const before = Math.floor(Date.now() / 1000);
    const answer = await ask(SHARED_SECRET_ENV, withKey(KEY, "&username=janus-echotest-1&ttl=600"));
    expect(answer.status).toBe(200);
    expect(answer.body.ttl).toBe(600);
    expect(answer.body.uris).toEqual(["turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"]);
    const [expiry, user] = answer.body.username.split(/:(.*)/s);
    expect(user).toBe("janus-echotest-1");
    expect(Number(expiry) - before).toBeGreaterThanOrEqual(600);
    expect(Number(expiry) - before).toBeLessThanOrEqual(601);
    expect(answer.body.password).toBe(createHmac("sha1", TURN_SECRET).update(answer.body.username).digest("base64"));
    // The request's line: the route, and a key as the caller; never the key itself (checked by ask).
    const line = JSON.parse(answer.lines.find((entry) => entry.includes('"type":"request"'))!);
    expect(line).toMatchObject({ route: "turn-rest", status: 200, caller: "key", provider: "shared-secret" });
  });

  it("without a username, names the credential with a random id", async () => {
    const first = await ask(SHARED_SECRET_ENV, withKey(KEY));
    const second = await ask(SHARED_SECRET_ENV, withKey(KEY));
    const idOf = (answer: typeof first) => answer.body.username.split(":")[1];
    expect(idOf(first)).toMatch(/^[0-9a-f-]{36}$/);
    expect(idOf(first)).not.toBe(idOf(second));
  });

  it("counts a wrong key against the address as a wrong bearer token is: past RATE_LIMIT, 429, then even with the right key", async () => {
    const env = { ...SHARED_SECRET_ENV, RATE_LIMIT: "3/60s" };
    const clientIp = ADDRESS;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const answer = await ask(env, withKey("w".repeat(40)), { clientIp });
      statuses.push(answer.status);
      expect(answer.headers.get("ratelimit-remaining")).toBe(String(2 - i));
    }
    const guess = await ask(env, withKey("w".repeat(40)), { clientIp });
    expect([...statuses, guess.status]).toEqual([401, 401, 401, 429]);
    expect(guess.body.error.code).toBe("rate_limited");
    // Refused before the key is read: the answer says nothing of whether it was right.
    const right = await ask(env, withKey(KEY), { clientIp });
    expect([right.status, right.body.error.code]).toEqual([429, "rate_limited"]);
    // Another address with the right key is served.
    expect((await ask(env, withKey(KEY), { clientIp: OTHER_ADDRESS })).status).toBe(200);
  });

  it("counts each key as a caller of its own, not its address: one key spent leaves the other and the browsers' route served", async () => {
    const env = { ...SHARED_SECRET_ENV, RATE_LIMIT: "2/60s" };
    const [a, b] = [KEY, OTHER_KEY];
    const clientIp = ADDRESS;
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push((await ask(env, withKey(a), { clientIp })).status);
    expect(seen).toEqual([200, 200, 429]);
    // Another address does not help a spent key.
    expect((await ask(env, withKey(a), { clientIp: OTHER_ADDRESS })).status).toBe(429);
    expect((await ask(env, withKey(b), { clientIp })).status).toBe(200);
    expect((await ask(env, "/api/ice-servers", { clientIp })).status).toBe(200);
  });

  it("with no provider, even under npm start, answers 500 not_configured rather than a STUN-only answer", async () => {
    const answer = await ask({ TURN_REST_API_KEYS: KEY }, withKey(KEY), { local: true });
    expect([answer.status, answer.body.error.code]).toEqual([500, "not_configured"]);
  });

  it("passes the chain's failure on even with TURN_FALLBACK_STUN: a server cannot use STUN-only", async () => {
    cloudflare.setFault({ kind: "status", status: 403 });
    try {
      const env = {
        CLOUDFLARE_TURN_KEY_ID: "kid",
        CLOUDFLARE_TURN_KEY_API_TOKEN: CF_TOKEN,
        CLOUDFLARE_TURN_API_BASE: cloudflare.apiBase,
        TURN_FALLBACK_STUN: "true",
        TURN_REST_API_KEYS: KEY,
      };
      const answer = await ask(env, withKey(KEY));
      expect([answer.status, answer.body.error.code]).toEqual([502, "upstream_unauthorized"]);
    } finally {
      cloudflare.reset();
    }
  });

  it("mounts under createHandler's basePath like the other routes", async () => {
    const answer = await ask(SHARED_SECRET_ENV, `/rtc/turn-rest?service=turn&api=${encodeURIComponent(KEY)}`, { basePath: "/rtc" });
    expect(answer.status).toBe(200);
  });
});
