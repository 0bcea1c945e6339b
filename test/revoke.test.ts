/**
 * Client revocation end to end against the fakes: the token from /api/ice-servers
 * revokes that credential at its provider, and nothing else.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { HandleOptions } from "../shared/handle.ts";
import { createService } from "../shared/service.ts";
import { startFakeCloudflare, type FakeCloudflare } from "./fake-cloudflare.ts";
import { startFakeMetered, type FakeMetered } from "./fake-metered.ts";
import { signHs256 } from "./helpers/jwt.ts";
import { quietLog } from "./helpers/log.ts";
import { secret } from "./helpers/secrets.ts";

// This file's own instance of the service.
const { handle } = createService();

const SIGNING = secret("revoke-e2e-signing-secret-0123456789abcdef");
const CF_TOKEN = secret("cf-revoke-token-Tz4Ux6Wv8Ys0");
const METERED_SECRET = secret("metered-revoke-secret-Ab3Cd5Ef7");
const JWT_SECRET = secret("revoke-jwt-secret-0123456789abcdefghij");

let cloudflare: FakeCloudflare;
let metered: FakeMetered;

beforeAll(async () => {
  cloudflare = await startFakeCloudflare({ keyId: "kid", apiToken: CF_TOKEN });
  metered = await startFakeMetered({ secretKey: METERED_SECRET, staticApiKey: "static-key" });
});
afterAll(async () => {
  await cloudflare.close();
  await metered.close();
});
beforeEach(() => {
  cloudflare.reset();
  metered.reset();
});

const quiet = quietLog();
const env = (extra: Record<string, string> = {}) => ({
  CLOUDFLARE_TURN_KEY_ID: "kid",
  CLOUDFLARE_TURN_KEY_API_TOKEN: CF_TOKEN,
  CLOUDFLARE_TURN_API_BASE: cloudflare.apiBase,
  METERED_APP: metered.origin,
  METERED_SECRET_KEY: METERED_SECRET,
  TURN_SHARED_SECRET: "shared-secret-value-0123456789abcdef",
  TURN_URLS: "turn:turn.example.test:3478",
  TURN_PROVIDERS: "cloudflare",
  REVOKE_SIGNING_SECRET: SIGNING,
  RATE_LIMIT: "off",
  TURN_TOTAL_TIMEOUT_MS: "2000",
  TURN_UPSTREAM_TIMEOUT_MS: "1000",
  ...extra,
});

async function issue(vars: Record<string, string>, options: HandleOptions = {}, init: RequestInit = {}) {
  const response = await handle(new Request("https://site.example/api/ice-servers", init), vars, { log: quiet, ...options });
  expect(response.status).toBe(200);
  return response.json();
}

async function revoke(
  vars: Record<string, string>,
  revokeToken: unknown,
  options: HandleOptions = {},
  headers: Record<string, string> = {},
) {
  const response = await handle(
    new Request("https://site.example/api/ice-servers/revoke", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ revokeToken }),
    }),
    vars,
    { log: quiet, ...options },
  );
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

const tokenFor = (sub: string) => signHs256(JWT_SECRET, { sub, iss: "https://idp.example/", aud: "turn", exp: "5m" });

const usernameOf = (body: { iceServers: { username?: string }[] }) => body.iceServers.find((server) => server.username)!.username!;

describe("revocation", () => {
  it("has no revokeToken without REVOKE_SIGNING_SECRET, and the endpoint says revocation is off", async () => {
    const vars = env({ REVOKE_SIGNING_SECRET: "" });
    expect("revokeToken" in (await issue(vars))).toBe(false);
    const answer = await revoke(vars, "anything");
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe("not_revocable");
  });

  it("Cloudflare: revokes the issued credential with the documented call, and again is 204 too", async () => {
    const vars = env();
    const body = await issue(vars);
    expect(typeof body.revokeToken).toBe("string");
    const username = usernameOf(body);
    expect((await revoke(vars, body.revokeToken)).status).toBe(204);
    const call = cloudflare.requests.at(-1)!;
    expect(call.method).toBe("POST");
    expect(call.path).toBe(`/v1/turn/keys/kid/credentials/${username}/revoke`);
    expect(call.headers.authorization).toBe(`Bearer ${CF_TOKEN}`);
    expect(cloudflare.revoked.has(username)).toBe(true);
    expect((await revoke(vars, body.revokeToken)).status).toBe(204);
  });

  // Cloudflare's usernames are hex, but whatever it answers must not break the revoke path.
  it.each(["a/b", "../../keys", "x?y#z", "%2e%2e", "100%", "a b"])(
    "Cloudflare: a username %j is revoked by that name, one path segment",
    async (username) => {
      const vars = env();
      cloudflare.queueFaults({
        kind: "status",
        status: 201,
        body: JSON.stringify({ iceServers: [{ urls: ["turn:turn.cloudflare.com:3478"], username, credential: "c" }] }),
      });
      const body = await issue(vars);
      expect(usernameOf(body)).toBe(username);
      cloudflare.reset();
      const answer = await revoke(vars, body.revokeToken);
      expect(answer.status).toBe(204);
      expect(cloudflare.requests).toHaveLength(1);
      expect(cloudflare.requests[0].path).toBe(`/v1/turn/keys/kid/credentials/${encodeURIComponent(username)}/revoke`);
      expect(cloudflare.revoked.has(username)).toBe(true);
    },
  );

  it.each([".", ".."])(
    "Cloudflare: a username %j, which no URL path can carry, is 409 not_revocable, not a 500, with no upstream call",
    async (username) => {
      const vars = env();
      cloudflare.queueFaults({
        kind: "status",
        status: 201,
        body: JSON.stringify({ iceServers: [{ urls: ["turn:turn.cloudflare.com:3478"], username, credential: "c" }] }),
      });
      const body = await issue(vars);
      cloudflare.reset();
      const answer = await revoke(vars, body.revokeToken);
      expect(answer.status).toBe(409);
      expect(answer.body.error.code).toBe("not_revocable");
      expect(cloudflare.requests).toHaveLength(0);
    },
  );

  it("Metered: deletes the credential through its API", async () => {
    const vars = env({ TURN_PROVIDERS: "metered" });
    const body = await issue(vars);
    const username = usernameOf(body);
    expect(metered.credentials.has(username)).toBe(true);
    expect((await revoke(vars, body.revokeToken)).status).toBe(204);
    const call = metered.requests.at(-1)!;
    expect(call.method).toBe("DELETE");
    expect(call.path).toBe("/api/v1/turn/credential");
    expect(JSON.parse(call.body)).toEqual({ username });
    expect(metered.credentials.has(username)).toBe(false);
    expect((await revoke(vars, body.revokeToken)).status).toBe(204);
  });

  it("Metered's static mode and the shared secret answer 409 not_revocable, with no upstream call", async () => {
    for (const vars of [
      env({ TURN_PROVIDERS: "metered", METERED_SECRET_KEY: "", METERED_API_KEY: "static-key" }),
      env({ TURN_PROVIDERS: "shared-secret" }),
    ]) {
      const body = await issue(vars);
      metered.reset();
      const answer = await revoke(vars, body.revokeToken);
      expect(answer.status).toBe(409);
      expect(answer.body.error.code).toBe("not_revocable");
      expect(metered.requests).toHaveLength(0);
    }
  });

  it("refuses tampered, forged and malformed tokens with 403, and bad bodies with 400, never calling upstream", async () => {
    const vars = env();
    const { revokeToken } = await issue(vars);
    cloudflare.reset();
    const [payload, signature] = revokeToken.split(".");
    const otherName = Buffer.from(JSON.stringify({ p: "cloudflare", n: "victim", e: Math.floor(Date.now() / 1000) + 600 })).toString(
      "base64url",
    );
    for (const token of [`${otherName}.${signature}`, `${payload}.${signature.slice(0, -2)}xx`, "not-a-token", `${payload}.`]) {
      const answer = await revoke(vars, token);
      expect(answer.status).toBe(403);
      expect(answer.body.error.code).toBe("invalid_revoke_token");
    }
    for (const bad of [42, "", null]) expect((await revoke(vars, bad)).status).toBe(400);
    expect(cloudflare.requests).toHaveLength(0);
  });

  it("refuses a genuine token once its credential has expired, with no upstream call", async () => {
    const vars = env();
    const issuedAt = Date.now();
    const { revokeToken } = await issue(vars, { now: () => issuedAt }, {});
    cloudflare.reset();
    const later = issuedAt + 86_400_000 + 1000;
    const answer = await revoke(vars, revokeToken, { now: () => later });
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe("revoke_token_expired");
    expect(cloudflare.requests).toHaveLength(0);
  });

  it("maps upstream faults as issuing does", async () => {
    const vars = env();
    const { revokeToken } = await issue(vars);
    cloudflare.setFault({ kind: "status", status: 503, headers: { "retry-after": "30" } });
    const unavailable = await revoke(vars, revokeToken);
    expect(unavailable.status).toBe(503);
    expect(unavailable.body.error.code).toBe("upstream_unavailable");
    expect(unavailable.headers.get("retry-after")).toBe("30");
    cloudflare.setFault({ kind: "hang" });
    const timeout = await revoke(vars, revokeToken);
    expect(timeout.status).toBe(504);
    cloudflare.setFault({ kind: "status", status: 401 });
    expect((await revoke(vars, revokeToken)).body.error.code).toBe("upstream_unauthorized");
  });

  it("applies the same authentication, and binds a signed-in user's token to that user", async () => {
    const jwtEnv = env({
      AUTH_MODE: "jwt",
      AUTH_JWT_SECRET: JWT_SECRET,
      AUTH_JWT_ISSUER: "https://idp.example/",
      AUTH_JWT_AUDIENCE: "turn",
    });
    const alice = `Bearer ${await tokenFor("alice")}`;
    const { revokeToken } = await issue(jwtEnv, {}, { headers: { authorization: alice } });
    expect(JSON.parse(cloudflare.requests[0].body)).toEqual({ ttl: 86400, customIdentifier: "alice" });
    cloudflare.reset();
    expect((await revoke(jwtEnv, revokeToken)).status).toBe(401);
    const mallory = await revoke(jwtEnv, revokeToken, {}, { authorization: `Bearer ${await tokenFor("mallory")}` });
    expect(mallory.status).toBe(403);
    expect(cloudflare.requests).toHaveLength(0);
    expect((await revoke(jwtEnv, revokeToken, {}, { authorization: alice })).status).toBe(204);
  });

  it("stamps the verified sub on the shared-secret username and as Metered's label", async () => {
    const jwtEnv = (provider: string) =>
      env({
        TURN_PROVIDERS: provider,
        AUTH_MODE: "jwt",
        AUTH_JWT_SECRET: JWT_SECRET,
        AUTH_JWT_ISSUER: "https://idp.example/",
        AUTH_JWT_AUDIENCE: "turn",
      });
    const token = await tokenFor("alice");
    const init = { headers: { authorization: `Bearer ${token}` } };
    expect(usernameOf(await issue(jwtEnv("shared-secret"), {}, init))).toMatch(/^\d+:alice$/);
    await issue(jwtEnv("metered"), {}, init);
    expect(JSON.parse(metered.requests[0].body).label).toBe("alice");
  });

  it("counts revoke requests against the same allowance as issuing", async () => {
    const vars = env({ RATE_LIMIT: "2/60s" });
    const options = { clientIp: "198.51.100.77" };
    const { revokeToken } = await issue(vars, options);
    expect((await revoke(vars, revokeToken, options)).status).toBe(204);
    const third = await revoke(vars, revokeToken, options);
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe("rate_limited");
    expect(third.headers.get("retry-after")).not.toBeNull();
  });

  it("applies the same origin rules, and answers a preflight for the revoke path", async () => {
    const vars = env({ ALLOWED_ORIGINS: "https://app.example.com" });
    const denied = await revoke(vars, "x", {}, { origin: "https://evil.example" });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("origin_not_allowed");
    const preflight = await handle(
      new Request("https://site.example/api/ice-servers/revoke", { method: "OPTIONS", headers: { origin: "https://app.example.com" } }),
      vars,
    );
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-methods")).toBe("POST, OPTIONS");
    const get = await handle(new Request("https://site.example/api/ice-servers/revoke"), vars);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST, OPTIONS");
  });

  it("refuses a signing secret too short to be safe, naming the variable", async () => {
    const response = await handle(new Request("https://site.example/api/ice-servers"), env({ REVOKE_SIGNING_SECRET: "short" }), {
      log: quiet,
    });
    expect(response.status).toBe(500);
    const body = await response.json();
    expect(body.error.message).toContain("REVOKE_SIGNING_SECRET");
    expect(body.error.message).not.toContain("short");
  });
});
