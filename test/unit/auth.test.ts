import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { signHs256, signHs256AnySub, type Hs256Claims } from "../helpers/jwt.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authenticate as authenticateWith, configureAuth, type AuthConfig } from "../../shared/access/auth.ts";
import { rejectionOf, thrownBy } from "../helpers/service-error.ts";
import { secret } from "../helpers/secrets.ts";

const SECRET = secret("jwt-hs256-secret-that-is-long-enough-0123456789");
const ISSUER = "https://auth.example.test/";
const AUDIENCE = "turn-credentials";

const withToken = (token?: string, scheme = "Bearer") =>
  new Request("https://site.example/api/ice-servers", token === undefined ? {} : { headers: { authorization: `${scheme} ${token}` } });

const hs256 = (claims: Partial<Hs256Claims>, secret = SECRET) =>
  signHs256(secret, { ...claims, iss: claims.iss ?? ISSUER, aud: claims.aud ?? AUDIENCE });

const now = () => Math.floor(Date.now() / 1000);
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

// Each check with key sets of its own, as a new service instance has.
const authenticate = (request: Request, config: AuthConfig) => authenticateWith(request, config, new Map());

const FIRST = "first-token-AAAA-0123456789abcdef";
const SECOND = "second-token-BBBB-0123456789abcdef";

describe("bearer tokens", () => {
  const config = configureAuth({ AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: `${FIRST},${SECOND}` });

  it("accepts any configured token, and names no user", async () => {
    expect(await authenticate(withToken(FIRST), config)).toEqual({});
    expect(await authenticate(withToken(SECOND), config)).toEqual({});
    expect(await authenticate(withToken(SECOND, "bearer"), config)).toEqual({});
  });

  it("asks for a token with WWW-Authenticate when there is none", async () => {
    const error = await rejectionOf(authenticate(withToken(), config));
    expect(error.status).toBe(401);
    expect(error.code).toBe("unauthorized");
    expect(error.headers["www-authenticate"]).toBe('Bearer realm="turn-credentials"');
  });

  it.each([
    ["a prefix", FIRST.slice(0, -1)],
    ["one more character", `${FIRST}f`],
    ["another case", FIRST.toUpperCase()],
    ["two tokens joined", `${FIRST},${SECOND}`],
    ["an empty-looking token", "-"],
  ])("refuses a near miss: %s", async (_, token) => {
    const error = await rejectionOf(authenticate(withToken(token), config));
    expect(error.headers["www-authenticate"]).toBe('Bearer realm="turn-credentials", error="invalid_token"');
    expect(error.message).not.toContain("first-token");
  });

  it.each([
    ["Basic", "Basic Zm9vOmJhcg=="],
    ["no scheme", FIRST],
    ["a space in the token", "Bearer first token"],
  ])("refuses a malformed Authorization header: %s", async (_, header) => {
    const request = new Request("https://site.example/", { headers: { authorization: header } });
    expect((await rejectionOf(authenticate(request, config))).status).toBe(401);
  });
});

describe("JWTs signed with a shared secret (HS256)", () => {
  const config = configureAuth({ AUTH_MODE: "jwt", AUTH_JWT_SECRET: SECRET, AUTH_JWT_ISSUER: ISSUER, AUTH_JWT_AUDIENCE: AUDIENCE });

  it("accepts a valid token and makes its sub the user", async () => {
    expect(await authenticate(withToken(await hs256({ sub: "user-42", exp: "5m" })), config)).toEqual({ user: "user-42" });
  });

  it("accepts a sub of 255 characters", async () => {
    const sub = "u".repeat(255);
    expect(await authenticate(withToken(await hs256({ sub, exp: "5m" })), config)).toEqual({ user: sub });
  });

  it.each([
    ["a number", 42],
    ["an object", {}],
    ["an array", ["alice"]],
    ["null", null],
    ["true", true],
    ["an empty string", ""],
    ["256 characters", "u".repeat(256)],
  ])("refuses a correctly signed token whose sub is %s: 401, not a user", async (_, sub) => {
    const token = await signHs256AnySub(SECRET, { iss: ISSUER, aud: AUDIENCE }, sub);
    const error = await rejectionOf(authenticate(withToken(token), config));
    expect(error.status).toBe(401);
    expect(error.code).toBe("unauthorized");
    expect(error.headers["www-authenticate"]).toContain('error="invalid_token"');
    expect(error.message).toContain("sub");
  });

  it("allows a small clock skew on expiry", async () => {
    expect(await authenticate(withToken(await hs256({ sub: "u", exp: now() - 10 })), config)).toEqual({ user: "u" });
  });

  it.each([
    ["expired past the skew", () => hs256({ sub: "u", exp: now() - 120 })],
    ["not valid yet", () => hs256({ sub: "u", exp: "5m", nbf: now() + 600 })],
    ["for another audience", () => hs256({ sub: "u", exp: "5m", aud: "other-service" })],
    ["from another issuer", () => hs256({ sub: "u", exp: "5m", iss: "https://evil.example/" })],
    ["signed with another secret", () => hs256({ sub: "u", exp: "5m" }, "another-secret-of-the-same-length-012345678")],
    ["without a sub", () => hs256({ exp: "5m" })],
    ["without an expiry", () => hs256({ sub: "u" })],
    [
      "unsigned (alg: none)",
      async () => `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ sub: "u", iss: ISSUER, aud: AUDIENCE, exp: now() + 300 })}.`,
    ],
    [
      "with a tampered payload",
      async () => {
        const [header, , signature] = (await hs256({ sub: "u", exp: "5m" })).split(".");
        return `${header}.${b64url({ sub: "admin", iss: ISSUER, aud: AUDIENCE, exp: now() + 300 })}.${signature}`;
      },
    ],
    ["that is not a JWT at all", async () => "not.a.jwt"],
  ])("refuses a token %s", async (_, make) => {
    const error = await rejectionOf(authenticate(withToken(await make()), config));
    expect(error.status).toBe(401);
    expect(error.headers["www-authenticate"]).toContain('error="invalid_token"');
    expect(error.message).not.toContain(SECRET);
  });
});

describe("JWTs checked against a JWKS URL", () => {
  let server: Server;
  let url: string;
  let jwks: { keys: JWK[] };
  let privateKey: CryptoKey;

  beforeAll(async () => {
    const pair = await generateKeyPair("ES256");
    privateKey = pair.privateKey as CryptoKey;
    jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: "key-1", alg: "ES256", use: "sig" }] };
    server = createServer((_, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(jwks));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const sign = (kid: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid })
      .setSubject("jwks-user")
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("5m")
      .sign(privateKey);

  it("accepts a token signed by a key of the set", async () => {
    const config = configureAuth({ AUTH_MODE: "jwt", AUTH_JWKS_URL: url, AUTH_JWT_ISSUER: ISSUER, AUTH_JWT_AUDIENCE: AUDIENCE });
    expect(await authenticate(withToken(await sign("key-1")), config)).toEqual({ user: "jwks-user" });
  });

  it("refuses a token whose key is not in the set", async () => {
    const config = configureAuth({ AUTH_MODE: "jwt", AUTH_JWKS_URL: url, AUTH_JWT_ISSUER: ISSUER, AUTH_JWT_AUDIENCE: AUDIENCE });
    expect((await rejectionOf(authenticate(withToken(await sign("key-2")), config))).status).toBe(401);
  });

  it("answers 503 auth_unavailable, not 401, when the key set cannot be fetched", async () => {
    const closed = `http://127.0.0.1:9/jwks.json`;
    const config = configureAuth({ AUTH_MODE: "jwt", AUTH_JWKS_URL: closed, AUTH_JWT_ISSUER: ISSUER, AUTH_JWT_AUDIENCE: AUDIENCE });
    const error = await rejectionOf(authenticate(withToken(await sign("key-1")), config));
    expect(error.status).toBe(503);
    expect(error.code).toBe("auth_unavailable");
  });
});

describe("auth configuration", () => {
  it.each([
    [{ AUTH_MODE: "magic" }, "invalid_config", "AUTH_MODE must be"],
    [{ AUTH_MODE: "bearer" }, "not_configured", "AUTH_BEARER_TOKENS"],
    [{ AUTH_MODE: "jwt", AUTH_JWT_SECRET: SECRET, AUTH_JWT_AUDIENCE: AUDIENCE }, "not_configured", "AUTH_JWT_ISSUER"],
    [{ AUTH_MODE: "jwt", AUTH_JWT_SECRET: SECRET, AUTH_JWT_ISSUER: ISSUER }, "not_configured", "AUTH_JWT_AUDIENCE"],
    [{ AUTH_MODE: "jwt", AUTH_JWT_ISSUER: ISSUER, AUTH_JWT_AUDIENCE: AUDIENCE }, "not_configured", "AUTH_JWKS_URL or AUTH_JWT_SECRET"],
    [
      {
        AUTH_MODE: "jwt",
        AUTH_JWT_SECRET: SECRET,
        AUTH_JWKS_URL: "https://x.example/jwks",
        AUTH_JWT_ISSUER: ISSUER,
        AUTH_JWT_AUDIENCE: AUDIENCE,
      },
      "invalid_config",
      "not both",
    ],
  ])("refuses %j", (env, code, message) => {
    const error = thrownBy(() => configureAuth(env));
    expect(error.code).toBe(code);
    expect(error.message).toContain(message);
    expect(error.message).not.toContain(SECRET);
  });

  const JWT = { AUTH_MODE: "jwt", AUTH_JWT_ISSUER: ISSUER, AUTH_JWT_AUDIENCE: AUDIENCE };
  it.each([
    ["a one-character HS256 secret", { ...JWT, AUTH_JWT_SECRET: "x" }, "AUTH_JWT_SECRET must be at least 32 bytes", "x"],
    [
      "an HS256 secret one byte short",
      { ...JWT, AUTH_JWT_SECRET: "s".repeat(31) },
      "AUTH_JWT_SECRET must be at least 32 bytes",
      "s".repeat(31),
    ],
    [
      "a one-character bearer token",
      { AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: "Q" },
      "AUTH_BEARER_TOKENS entry 1 must be at least 32",
      "Q",
    ],
    [
      "a short second bearer token",
      { AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: `${FIRST},short-token-9` },
      "AUTH_BEARER_TOKENS entry 2 must be at least 32",
      "short-token-9",
    ],
    [
      "a bearer token with a space inside",
      { AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: `${FIRST} ${SECOND}` },
      "printable ASCII characters, without spaces",
      FIRST,
    ],
    [
      "bearer tokens split by a comma and a space",
      { AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: `${FIRST}, ${SECOND}` },
      "AUTH_BEARER_TOKENS entry 2 begins or ends with whitespace",
      FIRST,
    ],
    [
      "an empty bearer token",
      { AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: `${FIRST},,${SECOND}` },
      "AUTH_BEARER_TOKENS entry 2 is empty",
      FIRST,
    ],
  ])("refuses %s with invalid_config, naming the variable and not the value", (_, env, message, value) => {
    const error = thrownBy(() => configureAuth(env));
    expect(error.code).toBe("invalid_config");
    expect(error.message).toContain(message);
    expect(error.message).not.toContain(value);
  });

  it("accepts an HS256 secret of exactly 32 bytes, counted as UTF-8", () => {
    expect(configureAuth({ ...JWT, AUTH_JWT_SECRET: "s".repeat(32) }).mode).toBe("jwt");
    // 16 two-byte characters are 32 bytes.
    expect(configureAuth({ ...JWT, AUTH_JWT_SECRET: "é".repeat(16) }).mode).toBe("jwt");
  });
});
