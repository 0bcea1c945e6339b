/**
 * Property-based fuzzing of request parsing and the access layers: whatever the
 * method, path, query, headers and body, handle() resolves, never with a 500, and
 * every answer is a well-formed JSON error or a 200 (or a 204 preflight); a 4xx
 * never cost an upstream call.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createService } from "../shared/service.ts";
import { signHs256 } from "./helpers/jwt.ts";
import { quietLog } from "./helpers/log.ts";
import { secret } from "./helpers/secrets.ts";

// This file's own instance of the service.
const { handle } = createService();

const SECRET = secret("fuzz-jwt-secret-0123456789abcdefghij");
const ENV = {
  CLOUDFLARE_TURN_KEY_ID: "kid",
  CLOUDFLARE_TURN_KEY_API_TOKEN: "fuzz-cloudflare-token",
  TURN_TTL: "3600",
  ALLOWED_ORIGINS: "https://app.example.com,https://*.example.org",
  AUTH_MODE: "jwt",
  AUTH_JWT_SECRET: SECRET,
  AUTH_JWT_ISSUER: "https://issuer.example/",
  AUTH_JWT_AUDIENCE: "turn",
  RATE_LIMIT: "off",
};
const validToken = await signHs256(SECRET, { sub: "fuzzer", iss: ENV.AUTH_JWT_ISSUER, aud: "turn", exp: "1h" });

const upstream = async () =>
  Response.json(
    {
      iceServers: [
        { urls: ["stun:stun.cloudflare.com:3478"] },
        { urls: ["turn:turn.cloudflare.com:3478"], username: "u", credential: "c" },
      ],
    },
    { status: 201 },
  );

// Valid choices weigh more, so that plenty of requests get past every gate to the provider.
const method = fc.oneof(
  { arbitrary: fc.constantFrom("GET", "POST"), weight: 4 },
  fc.constantFrom("PUT", "DELETE", "PATCH", "OPTIONS"),
  fc.stringMatching(/^[A-Z]{1,10}$/),
);
const path = fc.oneof({ arbitrary: fc.constantFrom("/api/ice-servers", "/api/ice-servers/"), weight: 4 }, fc.webPath());
const query = fc.oneof(
  { arbitrary: fc.constant(""), weight: 3 },
  fc.integer({ min: -10, max: 200_000 }).map((n) => `?ttl=${n}`),
  fc
    .dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 12 }), { maxKeys: 3 })
    .map((entries) => `?${new URLSearchParams(entries)}`),
  fc.string({ maxLength: 40 }).map((raw) => `?${encodeURI(raw)}`),
);
const authorization = fc.oneof(
  fc.constant(undefined),
  { arbitrary: fc.constant(`Bearer ${validToken}`), weight: 4 },
  fc.string({ maxLength: 60 }).map((token) => `Bearer ${token}`),
  fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map(([a, b, c]) => `Bearer ${a}.${b}.${c}`),
  fc.string({ maxLength: 60 }),
);
const origin = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 3 },
  fc.constantFrom("https://app.example.com", "https://x.example.org", "null", "https://evil.example"),
  fc.webUrl(),
);
const contentType = fc.oneof(
  fc.constant(undefined),
  { arbitrary: fc.constant("application/json"), weight: 3 },
  fc.constantFrom("text/plain", "application/x-www-form-urlencoded"),
  fc.string({ maxLength: 30 }),
);
const body = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 3 },
  fc.json({ maxDepth: 4 }),
  fc.integer({ min: -5, max: 200_000 }).map((ttl) => JSON.stringify({ ttl })),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 64 }),
);

/** Builds a Request, or undefined where the fetch API itself would refuse it (a header no client could send). */
function build(m: string, p: string, q: string, a?: string, o?: string, t?: string, b?: string | Uint8Array): Request | undefined {
  try {
    const headers = new Headers();
    if (a !== undefined) headers.set("authorization", a);
    if (o !== undefined) headers.set("origin", o);
    if (t !== undefined) headers.set("content-type", t);
    const hasBody = b !== undefined && m !== "GET" && m !== "HEAD";
    return new Request(`https://turn.example.com${p}${q}`, { method: m, headers, body: hasBody ? (b as BodyInit) : undefined });
  } catch {
    return undefined;
  }
}

const ALLOWED_STATUSES = new Set([200, 204, 400, 401, 403, 404, 405, 413, 415]);

describe("fuzzing the request and access layers", () => {
  it("every request gets a 200, a 204 preflight, or a well-formed 4xx JSON error, and a 4xx costs no upstream call", async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(method, path, query, authorization, origin, contentType, body, async (m, p, q, a, o, t, b) => {
        const request = build(m, p, q, a, o, t, b);
        if (!request) return;
        let calls = 0;
        const response = await handle(request, ENV, {
          clientIp: "192.0.2.9",
          fetch: () => {
            calls += 1;
            return upstream();
          },
          log: quietLog(),
        });
        expect(ALLOWED_STATUSES.has(response.status), `status ${response.status}`).toBe(true);
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status === 204) return;
        const text = await response.text();
        const parsed = JSON.parse(text);
        if (response.status === 200) {
          expect(Array.isArray(parsed.iceServers)).toBe(true);
          expect(calls).toBe(1);
        } else {
          expect(Object.keys(parsed)).toEqual(["error"]);
          expect(typeof parsed.error.code).toBe("string");
          expect(typeof parsed.error.message).toBe("string");
          expect(calls).toBe(0);
        }
        expect(text).not.toContain(SECRET);
        expect(text).not.toContain(ENV.CLOUDFLARE_TURN_KEY_API_TOKEN);
      }),
      { numRuns: 600, seed: 20261125 },
    );
    // The generators reach every layer: some requests get through, others stop at each gate.
    for (const status of [200, 401, 403, 405]) expect(statuses.get(status) ?? 0, `answers with ${status}`).toBeGreaterThan(0);
  });

  it("the JWT layer never throws past handle(), whatever the token", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), fc.string({ maxLength: 50, unit: "binary" }), async (token, noise) => {
        const request = build("GET", "/api/ice-servers", "", `Bearer ${token}${noise.replace(/[^\x21-\x7e]/g, "")}`);
        if (!request) return;
        const response = await handle(request, ENV, { clientIp: "192.0.2.9", fetch: upstream, log: quietLog() });
        expect([200, 401]).toContain(response.status);
        if (response.status === 401) expect(response.headers.get("www-authenticate")).toMatch(/^Bearer realm=/);
      }),
      { numRuns: 400, seed: 7 },
    );
  });
});
