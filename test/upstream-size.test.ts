/**
 * The body cap on the upstreams that are not providers, through the Netlify and
 * Vercel functions: a JWKS and an Upstash reply that are well formed but padded
 * past MAX_UPSTREAM_BODY_BYTES are refused, not read whole and used. (The
 * providers' oversized answers are in the chain's fault matrix and the contract.)
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import vercel from "../vercel/ice-servers.ts";
import netlify from "../functions/ice-servers.mts";
import { startFakeCloudflare, type FakeCloudflare } from "./fake-cloudflare.ts";
import { OVERSIZED_PADDING_BYTES } from "./fake-upstream.ts";
import { unset, useProcessEnv } from "./helpers/env.ts";
import { secret } from "./helpers/secrets.ts";

const CF_TOKEN = secret("cf-size-token-Wq3Er5Ty7Ui9Op1As");
const UPSTASH_TOKEN = secret("upstash-size-token-Df2Gh4Jk6Lz8Xc0V");
const ISSUER = "https://idp.example.test/";
const AUDIENCE = "turn";
const NAMES = [
  "AUTH_MODE",
  "AUTH_JWKS_URL",
  "AUTH_JWT_ISSUER",
  "AUTH_JWT_AUDIENCE",
  "RATE_LIMIT",
  "RATE_LIMIT_FAIL",
  "UPSTASH_REDIS_REST_URL",
  "UPSTASH_REDIS_REST_TOKEN",
  "REDIS_URL",
];

type Body = { json: unknown; padded: boolean; chunked: boolean };
let body: Body = { json: {}, padded: false, chunked: false };
let server: Server;
let origin = "";
let fake: FakeCloudflare;
let restoreEnv: (() => void) | undefined;

/** Answers every request with `body`: padded past the cap if asked, with a Content-Length or chunked. */
function answer(res: import("node:http").ServerResponse): void {
  const text = JSON.stringify(body.padded ? { ...(body.json as object), padding: "x".repeat(OVERSIZED_PADDING_BYTES) } : body.json);
  res.on("error", () => {});
  if (!body.chunked) {
    res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) });
    res.end(text);
    return;
  }
  res.writeHead(200, { "content-type": "application/json" });
  for (let offset = 0; offset < text.length && !res.destroyed; offset += 16 * 1024) res.write(text.slice(offset, offset + 16 * 1024));
  res.end();
}

beforeAll(async () => {
  fake = await startFakeCloudflare({ keyId: "kid", apiToken: CF_TOKEN });
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => answer(res));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  restoreEnv?.();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
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
    ...extra,
  });
}

const ENTRY_POINTS = [
  ["the Vercel function", (request: Request) => vercel.fetch(request)],
  ["the Netlify function", (request: Request) => netlify(request, { ip: "203.0.113.80" } as never)],
] as const;

describe("a key set (JWKS) over the body cap", () => {
  let privateKey: CryptoKey;
  let jwks: { keys: JWK[] };

  beforeAll(async () => {
    const pair = await generateKeyPair("ES256");
    privateKey = pair.privateKey as CryptoKey;
    jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: "size-key", alg: "ES256", use: "sig" }] };
  });

  const token = () =>
    new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: "size-key" })
      .setSubject("alice")
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("5m")
      .sign(privateKey);

  // Each case its own URL: the key set is cached per URL for the life of the instance.
  let path = 0;
  const ask = async (send: (request: Request) => Promise<Response>, padded: boolean, chunked: boolean) => {
    body = { json: jwks, padded, chunked };
    path += 1;
    useEnv({
      AUTH_MODE: "jwt",
      AUTH_JWKS_URL: `${origin}/jwks-${path}.json`,
      AUTH_JWT_ISSUER: ISSUER,
      AUTH_JWT_AUDIENCE: AUDIENCE,
      RATE_LIMIT: "off",
    });
    const response = await send(
      new Request("https://turn.example.com/api/ice-servers", { headers: { authorization: `Bearer ${await token()}` } }),
    );
    return { status: response.status, json: await response.json() };
  };

  for (const [name, send] of ENTRY_POINTS) {
    it(`${name}: a key set of normal size verifies the token`, async () => {
      expect((await ask(send, false, false)).status).toBe(200);
    });

    for (const chunked of [false, true]) {
      it(`${name}: ${chunked ? "chunked" : "with a Content-Length"} → 503 auth_unavailable, no provider call`, async () => {
        const answered = await ask(send, true, chunked);
        expect(answered.status).toBe(503);
        expect(answered.json.error.code).toBe("auth_unavailable");
        expect(fake.requests).toHaveLength(0);
      });
    }
  }
});

describe("an Upstash reply over the body cap", () => {
  for (const [name, send] of ENTRY_POINTS) {
    for (const chunked of [false, true]) {
      it(`${name}: ${chunked ? "chunked" : "with a Content-Length"} → the store counts as down (RATE_LIMIT_FAIL=closed: 503), no provider call`, async () => {
        body = { json: { result: [1, 60_000] }, padded: false, chunked };
        // A distinct URL per case: a store is kept per URL.
        const base = {
          RATE_LIMIT: "20/60s",
          RATE_LIMIT_FAIL: "closed",
          UPSTASH_REDIS_REST_URL: `${origin}/${name.length}-${chunked}`,
          UPSTASH_REDIS_REST_TOKEN: UPSTASH_TOKEN,
        };
        useEnv(base);
        const request = () => new Request("https://turn.example.com/api/ice-servers", { headers: { "x-real-ip": "203.0.113.81" } });
        expect((await send(request())).status).toBe(200);
        fake.reset();
        body = { ...body, padded: true };
        const response = await send(request());
        expect(response.status).toBe(503);
        expect((await response.json()).error.code).toBe("rate_limit_unavailable");
        expect(fake.requests).toHaveLength(0);
      });
    }
  }
});
