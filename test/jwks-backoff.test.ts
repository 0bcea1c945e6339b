/**
 * A failing identity provider is not hammered through us: after a failed JWKS
 * fetch, requests get 503 auth_unavailable without another fetch until the
 * back-off ends. Through `npm start` and the Netlify and Vercel functions
 * in-process, against a fake JWKS endpoint on 127.0.0.1 that counts its hits.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import vercel from "../vercel/ice-servers.ts";
import { JWKS_BACKOFF_FIRST_MS } from "../shared/access/jwks.ts";
import netlify from "../functions/ice-servers.mts";
import { startFakeCloudflare, type FakeCloudflare } from "./fake-cloudflare.ts";
import { unset, useProcessEnv } from "./helpers/env.ts";
import { startLocalServer, type Spawned } from "./helpers/process.ts";
import { secret } from "./helpers/secrets.ts";

const KEY_ID = "5e1f0c0ffee5e1f0c0ffee5e1f0c0ffe";
const CF_TOKEN = secret("cf-jwks-backoff-Secret-Rt5Yu7Io9Pa1Sd3F");
const ISSUER = "https://idp.example.test/";
const AUDIENCE = "turn";

interface FakeJwks {
  /** Each mounted path answers on its own; `url(path)` is its address. */
  url(path: string): string;
  hits(path: string): number;
  /** What a path answers from now on: the key set, a 500, or a body that is not a key set. */
  answer(path: string, mode: "keys" | "500" | "garbage"): void;
  close(): Promise<void>;
}

let cloudflare: FakeCloudflare;
let jwks: FakeJwks;
let keys: { keys: JWK[] };
let privateKey: CryptoKey;
let server: Spawned | undefined;

async function startFakeJwks(): Promise<FakeJwks> {
  const hits = new Map<string, number>();
  const modes = new Map<string, "keys" | "500" | "garbage">();
  const http: Server = createServer((req, res) => {
    const path = req.url ?? "/";
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const mode = modes.get(path) ?? "500";
    if (mode === "keys") res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(keys));
    else if (mode === "garbage") res.writeHead(200, { "content-type": "application/json" }).end('{"keys": "none"}');
    else res.writeHead(500).end("identity provider down");
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = (http.address() as AddressInfo).port;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    hits: (path) => hits.get(path) ?? 0,
    answer: (path, mode) => void modes.set(path, mode),
    close: () => new Promise((resolve) => http.close(() => resolve())),
  };
}

const sign = (sub: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: "key-1" })
    .setSubject(sub)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime("5m")
    .sign(privateKey);

beforeAll(async () => {
  const pair = await generateKeyPair("ES256");
  privateKey = pair.privateKey;
  keys = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: "key-1", alg: "ES256", use: "sig" }] };
  cloudflare = await startFakeCloudflare({ keyId: KEY_ID, apiToken: CF_TOKEN });
  jwks = await startFakeJwks();
});

afterAll(async () => {
  await server?.stop();
  expect(server?.output() ?? "").not.toContain(CF_TOKEN);
  await Promise.all([jwks.close(), cloudflare.close()]);
});

interface Seen {
  status: number;
  code?: string;
  retryAfter: string | null;
}

async function seen(response: Response): Promise<Seen> {
  const text = await response.text();
  expect(text).not.toContain(CF_TOKEN);
  return {
    status: response.status,
    code: response.status === 200 ? undefined : JSON.parse(text).error.code,
    retryAfter: response.headers.get("retry-after"),
  };
}

const envFor = (path: string) => ({
  CLOUDFLARE_TURN_KEY_ID: KEY_ID,
  CLOUDFLARE_TURN_KEY_API_TOKEN: CF_TOKEN,
  CLOUDFLARE_TURN_API_BASE: cloudflare.apiBase,
  AUTH_MODE: "jwt",
  AUTH_JWKS_URL: jwks.url(path),
  AUTH_JWT_ISSUER: ISSUER,
  AUTH_JWT_AUDIENCE: AUDIENCE,
  RATE_LIMIT: "1000/60s",
});

/**
 * The most fetches a back-off allows since `started`: the first, then one per
 * back-off that ended (a busy machine may outlast the first one; the old code
 * fetched once per request).
 */
const fetchesAllowed = (started: number) => 1 + Math.floor((performance.now() - started) / JWKS_BACKOFF_FIRST_MS);

/** Asks until an answer is not 503 (the back-off is over and the provider is back), at most `tries` times. */
async function untilServed(ask: () => Promise<Seen>, tries = 40): Promise<Seen> {
  for (let i = 0; i < tries; i += 1) {
    const answer = await ask();
    if (answer.status !== 503) return answer;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error("still 503 after the back-off");
}

describe("the Netlify and Vercel functions, with the identity provider failing", () => {
  const NAMES = [
    "RATE_LIMIT_FAIL",
    "REDIS_URL",
    "UPSTASH_REDIS_REST_URL",
    "UPSTASH_REDIS_REST_TOKEN",
    "ALLOWED_ORIGINS",
    "AUTH_BEARER_TOKENS",
    "AUTH_JWT_SECRET",
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
  const viaNetlify = async (token: string, ip = "192.0.2.50") =>
    seen(await netlify(new Request(URL, { headers: { authorization: `Bearer ${token}` } }), { ip } as never));
  const viaVercel = async (token: string, ip = "192.0.2.51") =>
    seen(await vercel.fetch(new Request(URL, { headers: { authorization: `Bearer ${token}`, "x-real-ip": ip } })));

  it("fetch the key set once, answer 503 without fetching during the back-off, then serve once it is back", {
    timeout: 30_000,
  }, async () => {
    const path = "/functions/jwks.json";
    restoreEnv = useProcessEnv({ ...unset(NAMES), ...envFor(path) });
    jwks.answer(path, "500");
    cloudflare.reset();
    const token = await sign("alice");

    const started = performance.now();
    const sequential: Seen[] = [];
    // One function: each is an instance of its own, with its own key set, as on the hosts.
    for (let i = 0; i < 10; i += 1) sequential.push(await viaNetlify(token));
    const concurrent = await Promise.all(Array.from({ length: 10 }, (_, i) => viaNetlify(token, `192.0.2.${60 + i}`)));
    for (const answer of [...sequential, ...concurrent]) expect([answer.status, answer.code]).toEqual([503, "auth_unavailable"]);
    expect(jwks.hits(path)).toBeLessThanOrEqual(fetchesAllowed(started));
    // Requests during the back-off are told when to come back.
    for (const answer of sequential.slice(1)) expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(cloudflare.requests).toHaveLength(0);

    // Back: served once the back-off is over, with one more fetch per back-off that passed.
    const failed = jwks.hits(path);
    jwks.answer(path, "keys");
    expect(await untilServed(() => viaNetlify(token))).toMatchObject({ status: 200 });
    expect(jwks.hits(path)).toBe(failed + 1);
    // The key set is cached: the provider failing again costs the next callers nothing.
    jwks.answer(path, "500");
    for (let i = 0; i < 5; i += 1) expect((await viaNetlify(await sign(`user-${i}`))).status).toBe(200);
    expect(jwks.hits(path)).toBe(failed + 1);
  });

  it("back off after a key set that is not one, too", { timeout: 30_000 }, async () => {
    const path = "/garbage/jwks.json";
    restoreEnv = useProcessEnv({ ...unset(NAMES), ...envFor(path) });
    jwks.answer(path, "garbage");
    const token = await sign("bob");
    const started = performance.now();
    for (let i = 0; i < 6; i += 1) expect(await viaVercel(token)).toMatchObject({ status: 503, code: "auth_unavailable" });
    expect(jwks.hits(path)).toBeLessThanOrEqual(fetchesAllowed(started));
  });
});

describe("npm start, with the identity provider failing", () => {
  it("fetches the key set once while backing off", { timeout: 60_000 }, async () => {
    const path = "/local/jwks.json";
    jwks.answer(path, "500");
    const started = await startLocalServer(envFor(path), { readyPath: "/no-such-path" });
    server = started.server;
    const token = await sign("carol");
    const ask = async () =>
      seen(
        await fetch(`${started.origin}/api/ice-servers`, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(5000),
        }),
      );
    const asking = performance.now();
    for (let i = 0; i < 8; i += 1) expect(await ask()).toMatchObject({ status: 503, code: "auth_unavailable" });
    expect(jwks.hits(path)).toBeLessThanOrEqual(fetchesAllowed(asking));
    const failed = jwks.hits(path);
    jwks.answer(path, "keys");
    expect(await untilServed(ask)).toMatchObject({ status: 200 });
    expect(jwks.hits(path)).toBe(failed + 1);
  });
});
