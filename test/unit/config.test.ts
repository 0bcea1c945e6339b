import { beforeEach, describe, expect, it } from "vitest";
import { configLoader, parseConfig, type ConfigLoader } from "../../shared/config.ts";
import { recordingReads } from "../helpers/env.ts";
import { thrownBy } from "../helpers/service-error.ts";
import { secret } from "../helpers/secrets.ts";

const failure = (env: Record<string, string>) => thrownBy(() => parseConfig(env));

const SECRET = secret("tok-Secret-Value-9f8e7d6c5b4a3210fedcba");

describe("parseConfig", () => {
  it("applies the documented defaults", () => {
    expect(parseConfig({})).toEqual({
      ttl: 86400,
      keepPort53: false,
      upstreamTimeoutMs: 5000,
      totalTimeoutMs: 9000,
      urlSet: "compact",
      fallbackStun: false,
      providers: [],
      routes: new Map(),
      origins: { kind: "default" },
      auth: { mode: "none" },
      rateLimit: {
        rule: { limit: 60, windowMs: 60_000 },
        failOpen: true,
        timeoutMs: 300,
        store: { kind: "memory" },
        fallbackStore: undefined,
      },
      turnRestKeys: [],
      logFormat: "text",
      spend: { limits: new Map(), refreshMs: 60_000 },
    });
  });

  it("reads LOG_FORMAT, text or json in any case, and names it when it is neither", () => {
    expect(parseConfig({ LOG_FORMAT: "json" }).logFormat).toBe("json");
    expect(parseConfig({ LOG_FORMAT: " JSON " }).logFormat).toBe("json");
    expect(parseConfig({ LOG_FORMAT: "text" }).logFormat).toBe("text");
    expect(() => parseConfig({ LOG_FORMAT: "yaml" })).toThrow("LOG_FORMAT must be text or json");
  });

  it("reads a complete Cloudflare configuration", () => {
    const config = parseConfig({ CLOUDFLARE_TURN_KEY_ID: "abc", CLOUDFLARE_TURN_KEY_API_TOKEN: SECRET });
    expect(config.providers.map((entry) => entry.provider.id)).toEqual(["cloudflare"]);
    expect(config.providers[0].config).toEqual({ keyId: "abc", apiToken: SECRET, apiBase: "https://rtc.live.cloudflare.com/v1" });
  });

  it("takes an API base override and drops its trailing slash", () => {
    const config = parseConfig({
      CLOUDFLARE_TURN_KEY_ID: "abc",
      CLOUDFLARE_TURN_KEY_API_TOKEN: SECRET,
      CLOUDFLARE_TURN_API_BASE: "http://127.0.0.1:9999/v1/",
    });
    expect(config.providers[0].config).toMatchObject({ apiBase: "http://127.0.0.1:9999/v1" });
  });

  it.each([
    [{ CLOUDFLARE_TURN_KEY_ID: "abc" }, "CLOUDFLARE_TURN_KEY_API_TOKEN is not set"],
    [{ CLOUDFLARE_TURN_KEY_API_TOKEN: SECRET }, "CLOUDFLARE_TURN_KEY_ID is not set"],
    [{ CLOUDFLARE_TURN_KEY_ID: "   ", CLOUDFLARE_TURN_KEY_API_TOKEN: SECRET }, "CLOUDFLARE_TURN_KEY_ID is not set"],
  ])("a half-configured provider names the missing variable, never a value (%j)", (env, expected) => {
    const error = failure(env);
    expect(error.code).toBe("not_configured");
    expect(error.status).toBe(500);
    expect(error.message).toContain(expected);
    expect(error.message).not.toContain(SECRET);
    expect(error.message).not.toContain("abc");
  });

  it("treats a variable set to an empty string as unset", () => {
    expect(parseConfig({ CLOUDFLARE_TURN_KEY_ID: "", CLOUDFLARE_TURN_KEY_API_TOKEN: "", TURN_TTL: "" })).toEqual(parseConfig({}));
  });

  it.each([
    ["TURN_TTL", "-3"],
    ["TURN_TTL", "172801"],
    ["TURN_TTL", "1.5"],
    ["TURN_TTL", "ten"],
    ["TURN_UPSTREAM_TIMEOUT_MS", "7777777"],
    ["TURN_UPSTREAM_TIMEOUT_MS", "-1"],
    ["TURN_KEEP_PORT_53", "maybe"],
    ["CLOUDFLARE_TURN_API_BASE", "ftp://example.com"],
    ["CLOUDFLARE_TURN_API_BASE", "not a url"],
  ])("refuses %s=%s naming the variable and not the value", (name, value) => {
    const error = failure({ CLOUDFLARE_TURN_KEY_ID: "abc", CLOUDFLARE_TURN_KEY_API_TOKEN: SECRET, [name]: value });
    expect(error.code).toBe("invalid_config");
    expect(error.message).toContain(name);
    expect(error.message).not.toContain(value);
  });

  it.each([
    ["CLOUDFLARE_TURN_API_BASE", { CLOUDFLARE_TURN_KEY_ID: "abc", CLOUDFLARE_TURN_KEY_API_TOKEN: SECRET }],
    ["AUTH_JWKS_URL", { AUTH_MODE: "jwt", AUTH_JWT_ISSUER: "https://idp.example/", AUTH_JWT_AUDIENCE: "turn" }],
    ["UPSTASH_REDIS_REST_URL", { UPSTASH_REDIS_REST_TOKEN: SECRET }],
    ["METERED_APP", { METERED_SECRET_KEY: SECRET }],
  ])("%s: plain http:// only to a loopback host", (name, rest) => {
    for (const url of ["http://api.example.com/v1", "http://10.0.0.5:8080", "http://127.0.0.1.nip.io", "http://[::2]:80"]) {
      const error = failure({ ...rest, [name]: url });
      expect(error.code, url).toBe("invalid_config");
      expect(error.message).toContain(`${name} must be`);
      expect(error.message).toContain("https://");
      expect(error.message).not.toContain(url);
    }
    for (const url of [
      "https://api.example.com",
      "http://127.0.0.1:9999",
      "http://127.8.9.10",
      "http://localhost:8080",
      "http://[::1]:8080",
    ]) {
      expect(() => parseConfig({ ...rest, [name]: url }), url).not.toThrow();
    }
  });

  it.each([".", ".."])("refuses CLOUDFLARE_TURN_KEY_ID=%s, which no URL path can carry", (keyId) => {
    const error = failure({ CLOUDFLARE_TURN_KEY_ID: keyId, CLOUDFLARE_TURN_KEY_API_TOKEN: SECRET });
    expect(error.code).toBe("invalid_config");
    expect(error.message).toContain("CLOUDFLARE_TURN_KEY_ID");
  });

  it.each([
    ["true", true],
    ["TRUE", true],
    ["1", true],
    ["yes", true],
    ["false", false],
    ["0", false],
    ["off", false],
  ])("reads TURN_KEEP_PORT_53=%s as %s", (value, expected) => {
    expect(parseConfig({ TURN_KEEP_PORT_53: value }).keepPort53).toBe(expected);
  });

  it("refuses a zero TTL and a zero timeout", () => {
    expect(failure({ TURN_TTL: "0" }).code).toBe("invalid_config");
    expect(failure({ TURN_UPSTREAM_TIMEOUT_MS: "0" }).code).toBe("invalid_config");
  });

  it("accepts the TTL bounds Cloudflare accepts", () => {
    expect(parseConfig({ TURN_TTL: "1" }).ttl).toBe(1);
    expect(parseConfig({ TURN_TTL: "172800" }).ttl).toBe(172800);
  });
});

describe("configLoader", () => {
  // A loader of its own for each test, as each service instance has.
  let loadConfig: ConfigLoader;
  beforeEach(() => {
    loadConfig = configLoader();
  });

  it("validates once per set of values and keeps the result for a warm instance", () => {
    const env = { TURN_TTL: "600" };
    const first = loadConfig(env);
    expect(loadConfig({ ...env })).toBe(first);
    const changed = loadConfig({ TURN_TTL: "700" });
    expect(changed).not.toBe(first);
    expect(changed.ttl).toBe(700);
  });

  it("keeps a configuration error too, and throws it on every call", () => {
    const env = { TURN_TTL: "nope" };
    expect(() => loadConfig(env)).toThrow(/TURN_TTL/);
    expect(() => loadConfig(env)).toThrow(/TURN_TTL/);
  });

  // process.env is one object whose reads are slow: a change to it in place is noticed within a second.
  it("rechecks the same environment object at most once a second", () => {
    const env: Record<string, string> = { TURN_TTL: "600" };
    const first = loadConfig(env, 10_000);
    env.TURN_TTL = "700";
    expect(loadConfig(env, 10_999)).toBe(first);
    const changed = loadConfig(env, 11_000);
    expect(changed.ttl).toBe(700);
    env.TURN_TTL = "800";
    expect(loadConfig(env, 11_999).ttl).toBe(700);
    expect(loadConfig(env, 12_000).ttl).toBe(800);
  });

  it("compares another environment object at once", () => {
    expect(loadConfig({ TURN_TTL: "600" }, 20_000).ttl).toBe(600);
    expect(loadConfig({ TURN_TTL: "900" }, 20_001).ttl).toBe(900);
  });

  // Every part's variables are watched with no list of them kept anywhere: in each of these
  // set-ups, changing any variable the parse read makes the next check parse again.
  it.each([
    [
      "bearer tokens and Cloudflare",
      { AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: "t".repeat(32), CLOUDFLARE_TURN_KEY_ID: "k", CLOUDFLARE_TURN_KEY_API_TOKEN: SECRET },
    ],
    [
      "an HS256 JWT and Metered",
      {
        AUTH_MODE: "jwt",
        AUTH_JWT_SECRET: "s".repeat(32),
        AUTH_JWT_ISSUER: "i",
        AUTH_JWT_AUDIENCE: "a",
        METERED_APP: "demo",
        METERED_SECRET_KEY: SECRET,
      },
    ],
    [
      "a JWKS, Upstash and a shared secret",
      {
        AUTH_MODE: "jwt",
        AUTH_JWKS_URL: "https://idp.example/jwks",
        AUTH_JWT_ISSUER: "i",
        AUTH_JWT_AUDIENCE: "a",
        UPSTASH_REDIS_REST_URL: "https://u.example",
        UPSTASH_REDIS_REST_TOKEN: SECRET,
        TURN_SHARED_SECRET: SECRET,
        TURN_URLS: "turn:t.example",
      },
    ],
    [
      "origins, Redis, a revoke secret and limits",
      {
        ALLOWED_ORIGINS: "https://app.example",
        REDIS_URL: "redis://127.0.0.1:6379",
        REVOKE_SIGNING_SECRET: "r".repeat(32),
        RATE_LIMIT: "5/60s",
        RATE_LIMIT_FAIL: "closed",
        RATE_LIMIT_TIMEOUT_MS: "100",
      },
    ],
  ])("notices a change to any variable it read: %s", (_, base: Record<string, string>) => {
    const read = new Set<string>();
    parseConfig(recordingReads(base, read));
    for (const name of Object.keys(base)) expect(read).toContain(name);
    let now = 40_000;
    for (const name of read) {
      const env: Record<string, string> = { ...base };
      now += 2000;
      const before = loadConfig(env, now);
      now += 2000;
      env[name] = `${env[name] ?? ""}-changed`;
      const after = (() => {
        try {
          return loadConfig(env, now);
        } catch (error) {
          return error;
        }
      })();
      expect(after, name).not.toBe(before);
    }
  });

  it("keeps the configuration when only a variable it did not read changes", () => {
    const env: Record<string, string> = { AUTH_MODE: "none" };
    const first = loadConfig(env, 50_000);
    env.AUTH_JWKS_URL = "https://idp.example/jwks";
    expect(loadConfig(env, 52_000)).toBe(first);
  });

  it("keeps what it loaded to itself: another loader reads the environment as it is now", () => {
    const env: Record<string, string> = { TURN_TTL: "600" };
    loadConfig(env, 30_000);
    env.TURN_TTL = "650";
    expect(configLoader()(env, 30_001).ttl).toBe(650);
    expect(loadConfig(env, 30_001).ttl).toBe(600);
  });
});

describe("the provider chain's configuration", () => {
  const ALL = {
    CLOUDFLARE_TURN_KEY_ID: "abc",
    CLOUDFLARE_TURN_KEY_API_TOKEN: SECRET,
    METERED_APP: "demo",
    METERED_SECRET_KEY: SECRET,
    TURN_SHARED_SECRET: SECRET,
    TURN_URLS: "turn:t.example",
  };
  const order = (env: Record<string, string>) => parseConfig(env).providers.map((entry) => entry.provider.id);

  it("infers the order cloudflare, metered, shared-secret from what is configured", () => {
    expect(order(ALL)).toEqual(["cloudflare", "metered", "shared-secret"]);
    expect(
      order({
        TURN_SHARED_SECRET: "order-shared-secret-0123456789abcdef",
        TURN_URLS: "turn:t.example",
        METERED_APP: "demo",
        METERED_API_KEY: "k",
      }),
    ).toEqual(["metered", "shared-secret"]);
  });

  it("follows TURN_PROVIDERS, and uses only the providers it lists", () => {
    expect(order({ ...ALL, TURN_PROVIDERS: "shared-secret, cloudflare" })).toEqual(["shared-secret", "cloudflare"]);
  });

  it.each([
    [
      { ...ALL, TURN_PROVIDERS: "cloudflare,vonage" },
      "invalid_config",
      "unknown provider: use cloudflare, metered, shared-secret, twilio, xirsys",
    ],
    [{ ...ALL, TURN_PROVIDERS: "cloudflare,twilio" }, "not_configured", "set TWILIO_ACCOUNT_SID"],
    [{ ...ALL, TURN_PROVIDERS: "metered,metered" }, "invalid_config", "lists metered twice"],
    [{ TURN_PROVIDERS: "metered" }, "not_configured", "set METERED_APP"],
  ])("refuses TURN_PROVIDERS in %j", (env, code, message) => {
    const error = failure(env);
    expect(error.code).toBe(code);
    expect(error.message).toContain(message);
    expect(error.message).not.toContain(SECRET);
  });

  it.each([
    ["TURN_URL_SET", "tiny"],
    ["TURN_FALLBACK_STUN", "perhaps"],
    ["TURN_TOTAL_TIMEOUT_MS", "-4"],
  ])("refuses %s=%s", (name, value) => {
    expect(failure({ [name]: value }).message).toContain(name);
  });
});
