/**
 * Unsafe configuration through the Netlify and Vercel functions: weak secrets,
 * secret lists that would split a secret, and the like answer 500 invalid_config
 * naming the variable, never its value, and never call the provider.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import vercel from "../vercel/ice-servers.ts";
import netlify from "../functions/ice-servers.mts";
import { startFakeCloudflare, type FakeCloudflare } from "./fake-cloudflare.ts";
import { unset, useProcessEnv } from "./helpers/env.ts";
import { secret } from "./helpers/secrets.ts";

const CF_TOKEN = secret("cf-config-safety-Token-Rt6Yu8Io0Pa2");
const STRONG_TOKEN = secret("config-safety-bearer-Lk9Jh7Gf5Ds3Aq1Zx");
const ISSUER = "https://idp.example.test/";
const NAMES = [
  "AUTH_MODE",
  "AUTH_BEARER_TOKENS",
  "AUTH_JWT_SECRET",
  "AUTH_JWKS_URL",
  "AUTH_JWT_ISSUER",
  "AUTH_JWT_AUDIENCE",
  "ALLOWED_ORIGINS",
  "TURN_SHARED_SECRET",
  "TURN_URLS",
  "TURN_PROVIDERS",
  "UPSTASH_REDIS_REST_URL",
  "UPSTASH_REDIS_REST_TOKEN",
  "METERED_APP",
  "METERED_SECRET_KEY",
  "RATE_LIMIT",
  "TWILIO_ACCOUNT_SID",
  "TWILIO_AUTH_TOKEN",
  "TWILIO_API_BASE",
  "XIRSYS_IDENT",
  "XIRSYS_SECRET",
  "XIRSYS_CHANNEL",
  "XIRSYS_API_BASE",
];

let fake: FakeCloudflare;
let restoreEnv: (() => void) | undefined;

beforeAll(async () => {
  fake = await startFakeCloudflare({ keyId: "kid", apiToken: CF_TOKEN });
});
afterAll(async () => {
  restoreEnv?.();
  await fake.close();
});
beforeEach(() => fake.reset());

function useEnv(extra: Record<string, string>): void {
  restoreEnv?.();
  restoreEnv = useProcessEnv({
    ...unset(NAMES),
    CLOUDFLARE_TURN_KEY_ID: "kid",
    CLOUDFLARE_TURN_KEY_API_TOKEN: CF_TOKEN,
    CLOUDFLARE_TURN_API_BASE: fake.apiBase,
    RATE_LIMIT: "off",
    ...extra,
  });
}

const ENTRY_POINTS = [
  ["Vercel", (request: Request) => vercel.fetch(request)],
  ["Netlify", (request: Request) => netlify(request, { ip: "203.0.113.90" } as never)],
] as const;

/** [what, environment, the variable the message must name, the values it must not show] */
export type UnsafeCase = [name: string, env: Record<string, string>, variable: string, values: string[]];

const JWT = { AUTH_MODE: "jwt", AUTH_JWT_ISSUER: ISSUER, AUTH_JWT_AUDIENCE: "turn" };
const WEAK_SECRET = "weak-Secret-Xq7";

export const unsafeCases: UnsafeCase[] = [
  ["a one-character HS256 secret", { ...JWT, AUTH_JWT_SECRET: "x" }, "AUTH_JWT_SECRET", []],
  ["an HS256 secret of 31 bytes", { ...JWT, AUTH_JWT_SECRET: `${WEAK_SECRET}${"7".repeat(16)}` }, "AUTH_JWT_SECRET", [WEAK_SECRET]],
  ["a one-character bearer token", { AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: "a" }, "AUTH_BEARER_TOKENS", []],
  [
    "a weak bearer token beside a strong one",
    { AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: `${STRONG_TOKEN},${WEAK_SECRET}` },
    "AUTH_BEARER_TOKENS",
    [STRONG_TOKEN, WEAK_SECRET],
  ],
  [
    "a bearer token split at a comma and a space",
    { AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: `${STRONG_TOKEN}, ${STRONG_TOKEN}` },
    "AUTH_BEARER_TOKENS",
    [STRONG_TOKEN],
  ],
  [
    "an empty entry among the bearer tokens",
    { AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: `${STRONG_TOKEN},,${STRONG_TOKEN}` },
    "AUTH_BEARER_TOKENS",
    [STRONG_TOKEN],
  ],
  [
    "a shared secret split at a comma and a space",
    { TURN_PROVIDERS: "shared-secret", TURN_SHARED_SECRET: `${WEAK_SECRET}, ${WEAK_SECRET}`, TURN_URLS: "turn:turn.example.test:3478" },
    "TURN_SHARED_SECRET",
    [WEAK_SECRET],
  ],
  ["a wildcard origin over a top-level domain", { ALLOWED_ORIGINS: "https://*.com" }, "ALLOWED_ORIGINS", []],
  [
    "a wildcard origin over a country's second level",
    { ALLOWED_ORIGINS: "https://app.example.com,https://*.co.uk" },
    "ALLOWED_ORIGINS",
    [],
  ],
  [
    "a one-character shared secret",
    { TURN_PROVIDERS: "shared-secret", TURN_SHARED_SECRET: "x", TURN_URLS: "turn:turn.example.test:3478" },
    "TURN_SHARED_SECRET",
    [],
  ],
  [
    "a 31-character shared secret kept for a rotation, behind a strong one",
    {
      TURN_PROVIDERS: "shared-secret",
      TURN_SHARED_SECRET: `${STRONG_TOKEN},${WEAK_SECRET}${"7".repeat(16)}`,
      TURN_URLS: "turn:turn.example.test:3478",
    },
    "TURN_SHARED_SECRET",
    [STRONG_TOKEN, WEAK_SECRET],
  ],
  ["a wildcard origin over a hosting platform", { ALLOWED_ORIGINS: "https://*.github.io" }, "ALLOWED_ORIGINS", []],
  [
    "Cloudflare's API base over plain http://",
    { CLOUDFLARE_TURN_API_BASE: "http://cf-proxy.example.com/v1" },
    "CLOUDFLARE_TURN_API_BASE",
    ["cf-proxy"],
  ],
  ["a JWKS URL over plain http://", { ...JWT, AUTH_JWKS_URL: "http://idp.example.com/jwks.json" }, "AUTH_JWKS_URL", ["idp.example.com"]],
  [
    "an Upstash URL over plain http://",
    { RATE_LIMIT: "20/60s", UPSTASH_REDIS_REST_URL: "http://redis.example.com", UPSTASH_REDIS_REST_TOKEN: STRONG_TOKEN },
    "UPSTASH_REDIS_REST_URL",
    ["redis.example.com", STRONG_TOKEN],
  ],
  [
    "a Metered origin over plain http://",
    { TURN_PROVIDERS: "metered", METERED_APP: "http://demo.metered.live", METERED_SECRET_KEY: STRONG_TOKEN },
    "METERED_APP",
    [STRONG_TOKEN],
  ],
  [
    "Twilio's API base over plain http://",
    {
      TURN_PROVIDERS: "twilio",
      TWILIO_ACCOUNT_SID: `AC${"ab".repeat(16)}`,
      TWILIO_AUTH_TOKEN: STRONG_TOKEN,
      TWILIO_API_BASE: "http://twilio-proxy.example.com",
    },
    "TWILIO_API_BASE",
    [STRONG_TOKEN, "twilio-proxy"],
  ],
  [
    "Xirsys's API base over plain http://",
    {
      TURN_PROVIDERS: "xirsys",
      XIRSYS_IDENT: "ident",
      XIRSYS_SECRET: STRONG_TOKEN,
      XIRSYS_CHANNEL: "c",
      XIRSYS_API_BASE: "http://xirsys-proxy.example.com",
    },
    "XIRSYS_API_BASE",
    [STRONG_TOKEN, "xirsys-proxy"],
  ],
  [
    "a Metered origin that is no URL",
    { TURN_PROVIDERS: "metered", METERED_APP: "http://[", METERED_SECRET_KEY: STRONG_TOKEN },
    "METERED_APP",
    [STRONG_TOKEN],
  ],
];

describe("unsafe configuration through the functions", () => {
  for (const [entry, send] of ENTRY_POINTS) {
    for (const [name, env, variable, values] of unsafeCases) {
      it(`${entry}: ${name} → 500 invalid_config naming ${variable}, no provider call`, async () => {
        useEnv(env);
        const response = await send(
          new Request("https://turn.example.com/api/ice-servers", { headers: { authorization: `Bearer ${STRONG_TOKEN}` } }),
        );
        const text = await response.text();
        expect(response.status, text).toBe(500);
        const body = JSON.parse(text);
        expect(body.error.code).toBe("invalid_config");
        expect(body.error.message).toContain(variable);
        for (const value of values) expect(text).not.toContain(value);
        expect(fake.requests).toHaveLength(0);
      });
    }
  }

  it("serves with strong secrets, so the cases above fail for their own reason", async () => {
    const strong: Record<string, string>[] = [
      { AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: `${STRONG_TOKEN},${STRONG_TOKEN.toUpperCase()}` },
      {
        TURN_PROVIDERS: "shared-secret",
        TURN_SHARED_SECRET: `${STRONG_TOKEN},${"7".repeat(32)}`,
        TURN_URLS: "turn:turn.example.test:3478",
      },
    ];
    for (const env of strong) {
      useEnv(env);
      const response = await vercel.fetch(
        new Request("https://turn.example.com/api/ice-servers", { headers: { authorization: `Bearer ${STRONG_TOKEN}` } }),
      );
      expect(response.status).toBe(200);
    }
  });
});
