/**
 * Failed authentication is counted against the client's address, through the
 * real entry points: `npm start` over its socket, and the Netlify and Vercel
 * functions in-process. Guessing ends in 429, the provider is never called, and
 * an address over its allowance is refused before its token is looked at.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import vercel from "../vercel/ice-servers.ts";
import netlify from "../functions/ice-servers.mts";
import { startFakeCloudflare, type FakeCloudflare } from "./fake-cloudflare.ts";
import { unset, useProcessEnv } from "./helpers/env.ts";
import { signHs256 } from "./helpers/jwt.ts";
import { startLocalServer, type Spawned } from "./helpers/process.ts";
import { secret } from "./helpers/secrets.ts";

const KEY_ID = "5e1f0c0ffee5e1f0c0ffee5e1f0c0ffe";
const CF_TOKEN = secret("cf-auth-failures-Secret-Hy7Ju9Ki1Lo3Pa5S");
const BEARER = secret("auth-failures-bearer-Secret-Qa2Ws4Ed6Rf8Tg0Yh1Uj3Ik5");
const JWT_SECRET = secret("auth-failures-jwt-Secret-Zq1Xw3Ce5Vr7Bt9Ny2Mu4");
const SECRETS = [CF_TOKEN, BEARER, JWT_SECRET];
const ISSUER = "https://issuer.test/";
const AUDIENCE = "turn";

let cloudflare: FakeCloudflare;
let server: Spawned | undefined;

beforeAll(async () => {
  cloudflare = await startFakeCloudflare({ keyId: KEY_ID, apiToken: CF_TOKEN });
});

afterAll(async () => {
  await server?.stop();
  await cloudflare.close();
  for (const secretValue of SECRETS) expect(server?.output() ?? "").not.toContain(secretValue);
});

interface Seen {
  status: number;
  code?: string;
  remaining: string | null;
  retryAfter: string | null;
}

async function seen(response: Response): Promise<Seen> {
  const text = await response.text();
  for (const secretValue of SECRETS) expect(text + JSON.stringify([...response.headers])).not.toContain(secretValue);
  return {
    status: response.status,
    code: response.status === 200 ? undefined : JSON.parse(text).error.code,
    remaining: response.headers.get("ratelimit-remaining"),
    retryAfter: response.headers.get("retry-after"),
  };
}

const cloudflareEnv = () => ({
  CLOUDFLARE_TURN_KEY_ID: KEY_ID,
  CLOUDFLARE_TURN_KEY_API_TOKEN: CF_TOKEN,
  CLOUDFLARE_TURN_API_BASE: cloudflare.apiBase,
});

describe("npm start with bearer tokens", () => {
  it("answers a guesser 401 within the allowance, then 429, even for the right token, and never calls the provider", {
    timeout: 60_000,
  }, async () => {
    const started = await startLocalServer(
      { ...cloudflareEnv(), AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: BEARER, RATE_LIMIT: "5/60s" },
      // Not an endpoint path: being ready must not spend the allowance.
      { readyPath: "/no-such-path" },
    );
    server = started.server;
    cloudflare.reset();
    const ask = async (token: string) =>
      seen(
        await fetch(`${started.origin}/api/ice-servers`, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(5000),
        }),
      );

    const answers: Seen[] = [];
    for (let i = 0; i < 20; i += 1) answers.push(await ask(`wrong-guess-${i}-${"x".repeat(30)}`));
    expect(answers.slice(0, 5).map((a) => [a.status, a.code, a.remaining])).toEqual([
      [401, "unauthorized", "4"],
      [401, "unauthorized", "3"],
      [401, "unauthorized", "2"],
      [401, "unauthorized", "1"],
      [401, "unauthorized", "0"],
    ]);
    for (const answer of answers.slice(5)) {
      expect([answer.status, answer.code, answer.remaining]).toEqual([429, "rate_limited", "0"]);
      expect(Number(answer.retryAfter)).toBeGreaterThan(0);
    }
    // The address is over its allowance: the right token gets 429 too, and learns nothing.
    expect(await ask(BEARER)).toMatchObject({ status: 429, code: "rate_limited" });
    expect(cloudflare.requests).toHaveLength(0);
  });
});

describe("the Netlify and Vercel functions with JWTs", () => {
  const NAMES = [
    "RATE_LIMIT",
    "RATE_LIMIT_FAIL",
    "REDIS_URL",
    "UPSTASH_REDIS_REST_URL",
    "UPSTASH_REDIS_REST_TOKEN",
    "ALLOWED_ORIGINS",
    "AUTH_BEARER_TOKENS",
    "AUTH_JWKS_URL",
    "TURN_SHARED_SECRET",
    "TURN_URLS",
    "METERED_APP",
    "METERED_SECRET_KEY",
    "METERED_API_KEY",
    "TURN_PROVIDERS",
  ];
  let restoreEnv: (() => void) | undefined;
  afterEach(() => restoreEnv?.());

  const URL = "https://example.test/api/ice-servers";
  const viaNetlify = async (ip: string, token?: string) =>
    seen(await netlify(new Request(URL, { headers: token ? { authorization: `Bearer ${token}` } : {} }), { ip } as never));
  const viaVercel = async (ip: string, token?: string) =>
    seen(await vercel.fetch(new Request(URL, { headers: { "x-real-ip": ip, ...(token ? { authorization: `Bearer ${token}` } : {}) } })));
  const valid = (sub: string) => signHs256(JWT_SECRET, { sub, iss: ISSUER, aud: AUDIENCE, exp: "5m" });

  it("count wrong and missing tokens per address, so guessing ends in 429 with no provider call", async () => {
    restoreEnv = useProcessEnv({
      ...unset(NAMES),
      ...cloudflareEnv(),
      RATE_LIMIT: "3/60s",
      AUTH_MODE: "jwt",
      AUTH_JWT_SECRET: JWT_SECRET,
      AUTH_JWT_ISSUER: ISSUER,
      AUTH_JWT_AUDIENCE: AUDIENCE,
    });
    cloudflare.reset();
    const forged = await signHs256(`not-${JWT_SECRET}`, { sub: "mallory", iss: ISSUER, aud: AUDIENCE, exp: "5m" });
    const guesser = "203.0.113.66";
    // Through one function: each is an instance of its own, with its own counts, as on the hosts.
    const answers = [
      await viaNetlify(guesser, forged),
      await viaNetlify(guesser),
      await viaNetlify(guesser, "not.a.jwt"),
      await viaNetlify(guesser, forged),
      await viaNetlify(guesser, forged),
    ];
    expect(answers.map((a) => [a.status, a.code, a.remaining])).toEqual([
      [401, "unauthorized", "2"],
      [401, "unauthorized", "1"],
      [401, "unauthorized", "0"],
      [429, "rate_limited", "0"],
      [429, "rate_limited", "0"],
    ]);
    // Refused before verification: a valid token from that address is refused as well.
    expect(await viaNetlify(guesser, await valid("alice"))).toMatchObject({ status: 429, code: "rate_limited" });
    expect(cloudflare.requests).toHaveLength(0);

    // A verified user elsewhere is counted as a user, untouched by the guesser.
    expect(await viaNetlify("203.0.113.67", await valid("alice"))).toMatchObject({ status: 200, remaining: "2" });
    // The Vercel function is an instance of its own: the guesser starts afresh there, and is counted.
    expect(await viaVercel(guesser)).toMatchObject({ status: 401, remaining: "2" });
    expect(cloudflare.requests).toHaveLength(1);
  });

  it("let a new RATE_LIMIT apply at once to an address that was over the old one", async () => {
    restoreEnv = useProcessEnv({
      ...unset(NAMES),
      ...cloudflareEnv(),
      RATE_LIMIT: "1/60s",
      AUTH_MODE: "jwt",
      AUTH_JWT_SECRET: JWT_SECRET,
      AUTH_JWT_ISSUER: ISSUER,
      AUTH_JWT_AUDIENCE: AUDIENCE,
    });
    const address = "203.0.113.70";
    expect((await viaNetlify(address, "x")).status).toBe(401);
    expect((await viaNetlify(address, "x")).status).toBe(429);
    restoreEnv();
    restoreEnv = useProcessEnv({
      ...unset(NAMES),
      ...cloudflareEnv(),
      RATE_LIMIT: "10/60s",
      AUTH_MODE: "jwt",
      AUTH_JWT_SECRET: JWT_SECRET,
      AUTH_JWT_ISSUER: ISSUER,
      AUTH_JWT_AUDIENCE: AUDIENCE,
    });
    expect(await viaNetlify(address, await valid("bob"))).toMatchObject({ status: 200 });
  });
});
