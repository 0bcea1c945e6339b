/**
 * Access control through the real entry points: a bad-input matrix where every
 * case must get a 4xx JSON error with no upstream call and no 500, CORS and
 * preflight behaviour, forged forwarding headers, and a scan of every answer and
 * log line for the configured secrets.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import vercel from "../vercel/ice-servers.ts";
import netlify from "../functions/ice-servers.mts";
import { startFakeCloudflare, type FakeCloudflare } from "./fake-cloudflare.ts";
import { unset, useProcessEnv } from "./helpers/env.ts";
import { signHs256, signHs256AnySub } from "./helpers/jwt.ts";
import { secret } from "./helpers/secrets.ts";

const SECRETS = {
  cloudflareToken: secret("cf-access-token-Mn8Bv6Cx4Zl2Kj0H"),
  jwtSecret: secret("access-jwt-secret-Pq9Wr7Et5Yu3Io1Asd"),
  bearer: secret("access-bearer-token-Gh4Jk6Lz8Xc0Vb2N"),
};
const ISSUER = "https://auth.example.test/";
const AUDIENCE = "turn";
const SITE = "https://turn.example.com";
const ALLOWED = "https://app.example.com";
const ENV_NAMES = [
  "VERCEL_URL",
  "VERCEL_BRANCH_URL",
  "VERCEL_PROJECT_PRODUCTION_URL",
  "CLOUDFLARE_TURN_KEY_ID",
  "CLOUDFLARE_TURN_KEY_API_TOKEN",
  "CLOUDFLARE_TURN_API_BASE",
  "ALLOWED_ORIGINS",
  "AUTH_MODE",
  "AUTH_JWT_SECRET",
  "AUTH_JWT_ISSUER",
  "AUTH_JWT_AUDIENCE",
  "AUTH_BEARER_TOKENS",
  "RATE_LIMIT",
  "TURN_TTL",
];

let fake: FakeCloudflare;
const seen: string[] = [];
let restoreEnv: (() => void) | undefined;

function useEnv(extra: Record<string, string>) {
  restoreEnv?.();
  restoreEnv = useProcessEnv({
    ...unset(ENV_NAMES),
    CLOUDFLARE_TURN_KEY_ID: "kid",
    CLOUDFLARE_TURN_KEY_API_TOKEN: SECRETS.cloudflareToken,
    CLOUDFLARE_TURN_API_BASE: fake.apiBase,
    ALLOWED_ORIGINS: ALLOWED,
    TURN_TTL: "3600",
    RATE_LIMIT: "100000/60s",
    ...extra,
  });
}

const JWT_ENV = { AUTH_MODE: "jwt", AUTH_JWT_SECRET: SECRETS.jwtSecret, AUTH_JWT_ISSUER: ISSUER, AUTH_JWT_AUDIENCE: AUDIENCE };

const jwt = (claims: { sub?: string; aud?: string; exp?: number | string } = {}, secret = SECRETS.jwtSecret) =>
  signHs256(secret, {
    iss: ISSUER,
    aud: claims.aud ?? AUDIENCE,
    exp: claims.exp ?? "5m",
    sub: claims.sub === null ? undefined : (claims.sub ?? "alice"),
  });

/** Calls the Vercel function as Vercel does, and records the whole answer for the secret scan. */
async function ask(path: string, init: RequestInit = {}, ip = "198.51.100.20") {
  const headers = new Headers(init.headers);
  if (!headers.has("x-real-ip")) headers.set("x-real-ip", ip);
  const response = await vercel.fetch(new Request(`${SITE}${path}`, { ...init, headers }));
  const text = await response.text();
  seen.push(text, ...[...response.headers].map(([name, value]) => `${name}: ${value}`));
  return { response, text, json: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  fake = await startFakeCloudflare({ keyId: "kid", apiToken: SECRETS.cloudflareToken });
  for (const method of ["log", "warn", "error"] as const) {
    const original = console[method].bind(console);
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      seen.push(args.map(String).join(" "));
      original(...args);
    });
  }
});

afterAll(async () => {
  vi.restoreAllMocks();
  restoreEnv?.();
  await fake.close();
});

beforeEach(() => fake.reset());

const json = (body: string, type = "application/json"): RequestInit => ({ method: "POST", headers: { "content-type": type }, body });
const bearer = (token: string, extra: Record<string, string> = {}): RequestInit => ({
  headers: { authorization: `Bearer ${token}`, ...extra },
});

type Case = [
  name: string,
  status: number,
  code: string,
  env: Record<string, string>,
  make: () => Promise<[string, RequestInit?]> | [string, RequestInit?],
];

const badInputs: Case[] = [
  ["PUT", 405, "method_not_allowed", {}, () => ["/api/ice-servers", { method: "PUT", body: "{}" }]],
  ["DELETE", 405, "method_not_allowed", {}, () => ["/api/ice-servers", { method: "DELETE" }]],
  ["PATCH", 405, "method_not_allowed", {}, () => ["/api/ice-servers", { method: "PATCH", body: "{}" }]],
  ["text/plain body", 415, "unsupported_media_type", {}, () => ["/api/ice-servers", json('{"ttl":60}', "text/plain")]],
  [
    "multipart body",
    415,
    "unsupported_media_type",
    {},
    () => ["/api/ice-servers", json("--x\r\n\r\nttl=60\r\n--x--", "multipart/form-data; boundary=x")],
  ],
  ["XML body", 415, "unsupported_media_type", {}, () => ["/api/ice-servers", json("<ttl>60</ttl>", "application/xml")]],
  ["a 5 KiB body", 413, "payload_too_large", {}, () => ["/api/ice-servers", json(JSON.stringify({ ttl: 60, pad: "x".repeat(5000) }))]],
  [
    "a Content-Length of 1 GB",
    413,
    "payload_too_large",
    {},
    () => [
      "/api/ice-servers",
      { method: "POST", headers: { "content-type": "application/json", "content-length": "1000000000" }, body: "{}" },
    ],
  ],
  ["deeply nested JSON", 400, "invalid_request", {}, () => ["/api/ice-servers", json(`${"[".repeat(2000)}${"]".repeat(2000)}`)]],
  ["ttl as an object", 400, "invalid_ttl", {}, () => ["/api/ice-servers", json('{"ttl":{"$gt":1}}')]],
  ["ttl overflowing to Infinity", 400, "invalid_ttl", {}, () => ["/api/ice-servers", json('{"ttl":1e309}')]],
  ["a JSON null", 400, "invalid_request", {}, () => ["/api/ice-servers", json("null")]],
  ["a JSON string", 400, "invalid_request", {}, () => ["/api/ice-servers", json('"ttl=60"')]],
  [
    "invalid UTF-8",
    400,
    "invalid_json",
    {},
    () => [
      "/api/ice-servers",
      { method: "POST", headers: { "content-type": "application/json" }, body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) },
    ],
  ],
  ["prototype pollution", 400, "invalid_request", {}, () => ["/api/ice-servers", json('{"__proto__":{"admin":true}}')]],
  ["ttl given twice", 400, "invalid_ttl", {}, () => ["/api/ice-servers?ttl=60&ttl=60"]],
  ["ttl[] array syntax", 400, "invalid_request", {}, () => ["/api/ice-servers?ttl[]=60"]],
  ["hexadecimal ttl", 400, "invalid_ttl", {}, () => ["/api/ice-servers?ttl=0x10"]],
  ["a NUL in ttl", 400, "invalid_ttl", {}, () => ["/api/ice-servers?ttl=6%000"]],
  ["a huge ttl", 400, "invalid_ttl", {}, () => ["/api/ice-servers?ttl=99999999999999999999"]],
  ["a JSONP callback parameter", 400, "invalid_request", {}, () => ["/api/ice-servers?callback=steal"]],
  ["JWT: no Authorization header", 401, "unauthorized", JWT_ENV, () => ["/api/ice-servers"]],
  ["JWT: not a JWT", 401, "unauthorized", JWT_ENV, () => ["/api/ice-servers", bearer("abc.def")]],
  [
    "JWT: expired",
    401,
    "unauthorized",
    JWT_ENV,
    async () => ["/api/ice-servers", bearer(await jwt({ exp: Math.floor(Date.now() / 1000) - 3600 }))],
  ],
  ["JWT: wrong audience", 401, "unauthorized", JWT_ENV, async () => ["/api/ice-servers", bearer(await jwt({ aud: "billing" }))]],
  [
    "JWT: signed with another secret",
    401,
    "unauthorized",
    JWT_ENV,
    async () => ["/api/ice-servers", bearer(await jwt({}, "not-the-secret-but-just-as-long-0123456"))],
  ],
  [
    "JWT: alg none",
    401,
    "unauthorized",
    JWT_ENV,
    () => {
      const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
      return [
        "/api/ice-servers",
        bearer(`${part({ alg: "none" })}.${part({ sub: "admin", iss: ISSUER, aud: AUDIENCE, exp: 4102444800 })}.`),
      ];
    },
  ],
  [
    "JWT: Basic credentials",
    401,
    "unauthorized",
    JWT_ENV,
    () => ["/api/ice-servers", { headers: { authorization: "Basic YWRtaW46YWRtaW4=" } }],
  ],
  ["JWT: an empty Bearer", 401, "unauthorized", JWT_ENV, () => ["/api/ice-servers", { headers: { authorization: "Bearer " } }]],
  ...(
    [
      ["a number", 42],
      ["an object", {}],
      ["an empty string", ""],
      ["256 characters", "u".repeat(256)],
    ] as const
  ).map(
    ([what, sub]): Case => [
      `JWT: sub is ${what}`,
      401,
      "unauthorized",
      JWT_ENV,
      async () => ["/api/ice-servers", bearer(await signHs256AnySub(SECRETS.jwtSecret, { iss: ISSUER, aud: AUDIENCE }, sub))],
    ],
  ),
  [
    "bearer: a prefix of the token",
    401,
    "unauthorized",
    { AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: SECRETS.bearer },
    () => ["/api/ice-servers", bearer(SECRETS.bearer.slice(0, -1))],
  ],
  [
    "bearer: the token and one more character",
    401,
    "unauthorized",
    { AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: SECRETS.bearer },
    () => ["/api/ice-servers", bearer(`${SECRETS.bearer}x`)],
  ],
  [
    "bearer: the token in upper case",
    401,
    "unauthorized",
    { AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: SECRETS.bearer },
    () => ["/api/ice-servers", bearer(SECRETS.bearer.toUpperCase())],
  ],
  [
    "bearer: the token in the query",
    400,
    "invalid_request",
    { AUTH_MODE: "none" },
    () => [`/api/ice-servers?access_token=${SECRETS.bearer}`],
  ],
  ["a disallowed Origin", 403, "origin_not_allowed", {}, () => ["/api/ice-servers", { headers: { origin: "https://evil.example" } }]],
  ["the null Origin", 403, "origin_not_allowed", {}, () => ["/api/ice-servers", { headers: { origin: "null" } }]],
  [
    "a look-alike Origin",
    403,
    "origin_not_allowed",
    {},
    () => ["/api/ice-servers", { headers: { origin: "https://app.example.com.evil.example" } }],
  ],
  [
    "a preflight from a disallowed Origin",
    403,
    "origin_not_allowed",
    {},
    () => ["/api/ice-servers", { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } }],
  ],
  [
    "a disallowed Origin with a valid JWT",
    403,
    "origin_not_allowed",
    JWT_ENV,
    async () => ["/api/ice-servers", bearer(await jwt(), { origin: "https://evil.example" })],
  ],
  [
    "a cross-site <img> (no Origin)",
    403,
    "origin_not_allowed",
    {},
    () => ["/api/ice-servers", { headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "image" } }],
  ],
  [
    "a cross-site <img> (no Origin) with a valid JWT",
    403,
    "origin_not_allowed",
    JWT_ENV,
    async () => ["/api/ice-servers", bearer(await jwt(), { "sec-fetch-site": "cross-site" })],
  ],
  [
    "a same-site <script> (no Origin)",
    403,
    "origin_not_allowed",
    {},
    () => ["/api/ice-servers", { headers: { "sec-fetch-site": "Same-Site" } }],
  ],
  [
    "a link from another site (no Origin)",
    403,
    "origin_not_allowed",
    {},
    () => ["/api/ice-servers?ttl=60", { headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate" } }],
  ],
  [
    "a Host header naming another host than the request URL",
    400,
    "invalid_request",
    {},
    () => ["/api/ice-servers", { headers: { host: "evil.example", origin: "https://evil.example" } }],
  ],
];

describe("bad input matrix (through the Vercel function)", () => {
  it("has at least 30 cases", () => {
    expect(badInputs.length).toBeGreaterThanOrEqual(30);
  });

  it("serves a good request, so the matrix is not failing for some other reason", async () => {
    useEnv(JWT_ENV);
    const { response, json: body } = await ask("/api/ice-servers", bearer(await jwt(), { origin: ALLOWED }));
    expect(response.status).toBe(200);
    expect(body.provider).toBe("cloudflare");
    expect(fake.requests).toHaveLength(1);
  });

  for (const [name, status, code, env, make] of badInputs) {
    it(`${name} → ${status} ${code}, no upstream call`, async () => {
      useEnv(env);
      const [path, init] = await make();
      const { response, json: body } = await ask(path, init);
      expect(response.status).toBe(status);
      expect(body).toEqual({ error: { code, message: expect.any(String) } });
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      expect(fake.requests).toHaveLength(0);
    });
  }
});

describe("CORS", () => {
  beforeEach(() => useEnv({}));

  it("answers an allowed origin with its own origin, never *, and Vary: Origin", async () => {
    const { response } = await ask("/api/ice-servers", { headers: { origin: ALLOWED } });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(response.headers.get("vary")).toBe("Origin");
    expect(response.headers.get("access-control-expose-headers")).toContain("ratelimit-remaining");
  });

  it("sends no CORS headers to a same-origin or non-browser caller, but still Vary: Origin", async () => {
    const { response } = await ask("/api/ice-servers");
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect(response.headers.get("vary")).toBe("Origin");
  });

  it("even with ALLOWED_ORIGINS=*, reflects the origin rather than sending *", async () => {
    useEnv({ ALLOWED_ORIGINS: "*" });
    const { response } = await ask("/api/ice-servers", { headers: { origin: "https://anyone.example" } });
    expect(response.headers.get("access-control-allow-origin")).toBe("https://anyone.example");
  });

  it("answers a preflight from an allowed origin with 204, the methods and headers, without calling upstream", async () => {
    const response = await vercel.fetch(
      new Request(`${SITE}/api/ice-servers`, {
        method: "OPTIONS",
        headers: {
          origin: ALLOWED,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, content-type",
        },
      }),
    );
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(response.headers.get("access-control-allow-methods")).toBe("GET, POST, OPTIONS");
    expect(response.headers.get("access-control-allow-headers")).toBe("authorization, content-type");
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(fake.requests).toHaveLength(0);
  });

  it("lets an allowed page read error bodies too", async () => {
    const { response } = await ask("/api/ice-servers?ttl=abc", { headers: { origin: ALLOWED } });
    expect(response.status).toBe(400);
    expect(response.headers.get("access-control-allow-origin")).toBe(ALLOWED);
  });
});

describe("same origin comes from the host, never from the request URL", () => {
  beforeEach(() => useEnv({}));
  const get = (url: string, headers: Record<string, string>) => new Request(url, { headers: { "x-real-ip": "198.51.100.30", ...headers } });

  it("Vercel: a request URL on the caller's host (absolute-form or //host target) → 400, no CORS, no upstream call", async () => {
    // What Vercel's launcher builds for `GET http://evil.example/api/ice-servers` sent to our host.
    const response = await vercel.fetch(
      get("http://evil.example/api/ice-servers", { host: "turn.example.com", origin: "http://evil.example" }),
    );
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe("invalid_request");
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect(fake.requests).toHaveLength(0);
  });

  it("Vercel: the host Vercel routed the request by is same-origin, and so are its system URLs", async () => {
    const routed = await vercel.fetch(
      get("https://turn.example.com/api/ice-servers", { host: "turn.example.com", origin: "https://turn.example.com" }),
    );
    expect(routed.status).toBe(200);
    expect(routed.headers.get("access-control-allow-origin")).toBe("https://turn.example.com");
    useEnv({ VERCEL_PROJECT_PRODUCTION_URL: "www.example.com", VERCEL_URL: "turn-abc123.vercel.app" });
    for (const origin of ["https://www.example.com", "https://turn-abc123.vercel.app"]) {
      const response = await vercel.fetch(
        get("https://turn-git-main.vercel.app/api/ice-servers", { host: "turn-git-main.vercel.app", origin }),
      );
      expect(response.status, origin).toBe(200);
    }
    const other = await vercel.fetch(
      get("https://turn-git-main.vercel.app/api/ice-servers", { host: "turn-git-main.vercel.app", origin: "https://example.com" }),
    );
    expect(other.status).toBe(403);
  });

  it("Netlify: the site URL and this deploy's permalink are same-origin; a request URL's own host is not", async () => {
    const context = { ip: "198.51.100.31", site: { url: "https://www.example.com", name: "turn" }, deploy: { id: "abc123" } } as never;
    for (const origin of ["https://www.example.com", "https://abc123--turn.netlify.app"]) {
      const response = await netlify(new Request("https://turn.netlify.app/api/ice-servers", { headers: { origin } }), context);
      expect(response.status, origin).toBe(200);
    }
    // Before, a host that appeared in the request URL counted as our own, whoever chose it.
    const chosen = await netlify(
      new Request("https://evil.example/api/ice-servers", { headers: { origin: "https://evil.example" } }),
      context,
    );
    expect(chosen.status).toBe(403);
    expect(fake.requests).toHaveLength(2);
  });
});

describe("forged forwarding headers", () => {
  it("Vercel: the limit follows x-real-ip, whatever x-forwarded-for or Forwarded claim", async () => {
    useEnv({ RATE_LIMIT: "2/60s" });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const { response } = await ask("/api/ice-servers", {
        headers: { "x-real-ip": "203.0.113.50", "x-forwarded-for": `10.0.0.${i}`, forwarded: `for=10.1.1.${i}` },
      });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(fake.requests).toHaveLength(2);
  });

  it("Netlify: the limit follows context.ip, and forwarding headers are ignored", async () => {
    useEnv({ RATE_LIMIT: "2/60s" });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const request = new Request(`${SITE}/api/ice-servers`, {
        headers: { "x-forwarded-for": `10.0.0.${i}`, "x-real-ip": `10.2.2.${i}`, "x-nf-client-connection-ip": `10.3.3.${i}` },
      });
      const response = await netlify(request, { ip: "203.0.113.60" } as never);
      seen.push(await response.text());
      statuses.push(response.status);
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
  });

  it("a verified user's allowance follows the user, not the address", async () => {
    useEnv({ ...JWT_ENV, RATE_LIMIT: "2/60s" });
    const results: number[] = [];
    for (const ip of ["192.0.2.1", "192.0.2.2", "192.0.2.3"]) {
      results.push((await ask("/api/ice-servers", bearer(await jwt({ sub: "mallory" })), ip)).response.status);
    }
    expect(results).toEqual([200, 200, 429]);
    const other = await ask("/api/ice-servers", bearer(await jwt({ sub: "carol" })), "192.0.2.1");
    expect(other.response.status).toBe(200);
  });

  it("answers 429 with Retry-After and the RateLimit headers", async () => {
    useEnv({ RATE_LIMIT: "1/60s" });
    await ask("/api/ice-servers", {}, "203.0.113.70");
    const { response, json: body } = await ask("/api/ice-servers", {}, "203.0.113.70");
    expect(response.status).toBe(429);
    expect(body.error.code).toBe("rate_limited");
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(response.headers.get("ratelimit-limit")).toBe("1");
    expect(response.headers.get("ratelimit-remaining")).toBe("0");
    expect(Number(response.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
  });
});

describe("secrets", () => {
  it("no answer and no log line of this suite carried a configured secret", () => {
    expect(seen.length).toBeGreaterThan(50);
    for (const [name, secret] of Object.entries(SECRETS)) {
      expect(
        seen.filter((line) => line.includes(secret)),
        name,
      ).toEqual([]);
    }
  });
});
