/**
 * The Netlify Edge Function under Deno: failed authentication counted against the
 * client address (guessing ends in 429, with no provider call), IPv6 callers counted
 * per /64, and no JWKS fetch per request while the identity provider is failing.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { generateKeyPair, SignJWT } from "jose";
import { startFakeCloudflare } from "../fake-cloudflare.ts";

type Handler = (request: Request, context: { ip?: string }) => Promise<Response>;

const KEY_ID = "de71de71de71de71de71de71de71de71";
const CF_TOKEN = "cf-deno-limits-Secret-6Tg8Yh0Uj2Ik4Ol";
const BEARER = "deno-limits-bearer-Secret-2Wd4Rf6Tg8Yh0Uj2Ik4Ol6";
const ISSUER = "https://idp.example.test/";
const AUDIENCE = "turn";

let env: Record<string, string> = {};
(globalThis as Record<string, unknown>).Netlify = { env: { toObject: () => ({ ...env }) } };
const edge: Handler = (await import("../../netlify/edge-functions/ice-servers.ts")).default;

async function ask(ip: string, token?: string): Promise<{ status: number; code?: string; remaining: string | null }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const response = await edge(new Request("https://example.test/api/ice-servers", { headers }), { ip });
  const text = await response.text();
  for (const secret of [CF_TOKEN, BEARER])
    assert.ok(!text.includes(secret) && !JSON.stringify([...response.headers]).includes(secret), "a secret in an answer");
  return {
    status: response.status,
    code: response.status === 200 ? undefined : JSON.parse(text).error.code,
    remaining: response.headers.get("ratelimit-remaining"),
  };
}

Deno.test("Netlify Edge Function: limits under Deno", async (t) => {
  const cloudflare = await startFakeCloudflare({ keyId: KEY_ID, apiToken: CF_TOKEN });
  const provider = {
    CLOUDFLARE_TURN_KEY_ID: KEY_ID,
    CLOUDFLARE_TURN_KEY_API_TOKEN: CF_TOKEN,
    CLOUDFLARE_TURN_API_BASE: cloudflare.apiBase,
  };
  try {
    await t.step("wrong bearer tokens spend the address's allowance: 401, then 429 even for the right one, no provider call", async () => {
      env = { ...provider, AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: BEARER, RATE_LIMIT: "3/60s" };
      cloudflare.reset();
      const answers = [];
      for (let i = 0; i < 6; i += 1) answers.push(await ask("198.51.100.90", `wrong-${i}-${"y".repeat(40)}`));
      assert.deepEqual(
        answers.map((a) => [a.status, a.code, a.remaining]),
        [
          [401, "unauthorized", "2"],
          [401, "unauthorized", "1"],
          [401, "unauthorized", "0"],
          [429, "rate_limited", "0"],
          [429, "rate_limited", "0"],
          [429, "rate_limited", "0"],
        ],
      );
      assert.equal((await ask("198.51.100.90", BEARER)).status, 429);
      assert.equal(cloudflare.requests.length, 0);
      assert.deepEqual(await ask("198.51.100.91", BEARER), { status: 200, code: undefined, remaining: "2" });
    });

    await t.step("IPv6 callers are counted per /64", async () => {
      env = { ...provider, RATE_LIMIT: "2/60s" };
      const answers = [await ask("2001:db8:77:1::1"), await ask("2001:db8:77:1:ffff::2"), await ask("2001:0db8:0077:0001::3")];
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200, 429],
      );
      assert.equal((await ask("2001:db8:77:2::1")).status, 200);
    });

    await t.step("a failing JWKS endpoint is fetched once, not once per request", async () => {
      let hits = 0;
      const jwks = createServer((_req, res) => {
        hits += 1;
        res.writeHead(500).end("down");
      });
      await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
      try {
        const port = (jwks.address() as AddressInfo).port;
        env = {
          ...provider,
          AUTH_MODE: "jwt",
          AUTH_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`,
          AUTH_JWT_ISSUER: ISSUER,
          AUTH_JWT_AUDIENCE: AUDIENCE,
        };
        const { privateKey } = await generateKeyPair("ES256");
        const token = await new SignJWT({})
          .setProtectedHeader({ alg: "ES256", kid: "k" })
          .setSubject("dave")
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime("5m")
          .sign(privateKey);
        const started = performance.now();
        for (let i = 0; i < 8; i += 1)
          assert.deepEqual(await ask("198.51.100.92", token), { status: 503, code: "auth_unavailable", remaining: null });
        // One fetch, and at most one more per second a busy machine took (the back-off starts at 1 s).
        assert.ok(hits >= 1 && hits <= 1 + Math.floor((performance.now() - started) / 1000), `${hits} JWKS fetches`);
      } finally {
        await new Promise((resolve) => jwks.close(resolve));
      }
    });
  } finally {
    await cloudflare.close();
  }
});
