/**
 * Twilio's Network Traversal Service through the core's handle(), against the fake Twilio:
 * the request as documented (method, path, Basic authentication, form body), the token's
 * servers handed out with `urls` only, the ttl Twilio grants, every error shape, revocation.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../shared/config.ts";
import { prepareTwilioToken, processTwilioToken } from "../../shared/providers/twilio.ts";
import { verifyRevokeToken } from "../../shared/revocation/revoke-token.ts";
import { startFakeTwilio, twilioError, TWILIO_DOCUMENTED_URLS, type FakeTwilio } from "../fake-twilio.ts";
import { askCore } from "../helpers/ask-core.ts";
import { secret } from "../helpers/secrets.ts";
import { thrownBy } from "../helpers/service-error.ts";
import { webCryptoHmac } from "../../shared/hmac.ts";

// WebCrypto's HMAC, as a service instance keeps it by default.
const keys = webCryptoHmac();

const ACCOUNT_SID = `AC${"0123456789abcdef".repeat(2)}`;
const AUTH_TOKEN = secret("twilio-unit-auth-token-Qm7Wn2Er5Ty8");
const API_KEY_SID = `SK${"fedcba9876543210".repeat(2)}`;
const API_KEY_SECRET = secret("twilio-unit-api-key-secret-Zx4Cv6Bn8");
const SIGNING = secret("twilio-unit-revoke-signing-secret-0123456789");
let fake: FakeTwilio;

beforeAll(async () => {
  fake = await startFakeTwilio({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, apiKeySid: API_KEY_SID, apiKeySecret: API_KEY_SECRET });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const env = (extra: Record<string, string> = {}) => ({
  TWILIO_ACCOUNT_SID: ACCOUNT_SID,
  TWILIO_AUTH_TOKEN: AUTH_TOKEN,
  TWILIO_API_BASE: fake.apiBase,
  TURN_PROVIDERS: "twilio",
  TURN_URL_SET: "full",
  TURN_TTL: "172800",
  RATE_LIMIT: "off",
  ...extra,
});

const call = askCore;

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("Twilio configuration", () => {
  it("signs in with the account SID and auth token, or with an API key", () => {
    expect(parseConfig(env()).providers[0].config).toMatchObject({ accountSid: ACCOUNT_SID, username: ACCOUNT_SID, password: AUTH_TOKEN });
    const withKey = env({ TWILIO_AUTH_TOKEN: "", TWILIO_API_KEY_SID: API_KEY_SID, TWILIO_API_KEY_SECRET: API_KEY_SECRET });
    expect(parseConfig(withKey).providers[0].config).toMatchObject({
      accountSid: ACCOUNT_SID,
      username: API_KEY_SID,
      password: API_KEY_SECRET,
    });
    expect(parseConfig({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN }).providers[0].config).toMatchObject({
      apiBase: "https://api.twilio.com",
    });
  });

  it.each([
    [{ TWILIO_AUTH_TOKEN: AUTH_TOKEN }, "not_configured", "TWILIO_ACCOUNT_SID is not set"],
    [{ TWILIO_ACCOUNT_SID: ACCOUNT_SID }, "not_configured", "neither TWILIO_AUTH_TOKEN nor TWILIO_API_KEY_SID"],
    [{ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_API_KEY_SID: API_KEY_SID }, "not_configured", "TWILIO_API_KEY_SECRET is not set"],
    [{ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_API_KEY_SECRET: API_KEY_SECRET }, "not_configured", "TWILIO_API_KEY_SID is not set"],
    [
      {
        TWILIO_ACCOUNT_SID: ACCOUNT_SID,
        TWILIO_AUTH_TOKEN: AUTH_TOKEN,
        TWILIO_API_KEY_SID: API_KEY_SID,
        TWILIO_API_KEY_SECRET: API_KEY_SECRET,
      },
      "invalid_config",
      "not both",
    ],
    [{ TWILIO_ACCOUNT_SID: "AC../../x", TWILIO_AUTH_TOKEN: AUTH_TOKEN }, "invalid_config", "TWILIO_ACCOUNT_SID must be AC followed by 32"],
    [
      { TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_API_KEY_SID: "SK1", TWILIO_API_KEY_SECRET: API_KEY_SECRET },
      "invalid_config",
      "TWILIO_API_KEY_SID must be SK",
    ],
    [
      { TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_BASE: "http://twilio-proxy.example.com" },
      "invalid_config",
      "TWILIO_API_BASE must be an https:// URL",
    ],
  ])("refuses %j, naming the variable, never the secret", (vars, code, message) => {
    const error = thrownBy(() => parseConfig(vars));
    expect(error.code).toBe(code);
    expect(error.message).toContain(message);
    for (const value of [AUTH_TOKEN, API_KEY_SECRET]) expect(error.message).not.toContain(value);
  });

  it("answers a half configuration with 500 not_configured and no call to Twilio", async () => {
    const { status, body } = await call({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_API_BASE: fake.apiBase });
    expect(status).toBe(500);
    expect(body.error.code).toBe("not_configured");
    expect(fake.requests).toHaveLength(0);
  });
});

describe("Twilio requests", () => {
  it("builds the documented POST: path, Basic authentication, form body, JSON accepted", () => {
    const request = prepareTwilioToken(
      { accountSid: ACCOUNT_SID, username: API_KEY_SID, password: API_KEY_SECRET, apiBase: "https://api.twilio.com" },
      600,
    );
    expect(request).toEqual({
      url: `https://api.twilio.com/2010-04-01/Accounts/${ACCOUNT_SID}/Tokens.json`,
      method: "POST",
      headers: {
        authorization: basic(API_KEY_SID, API_KEY_SECRET),
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
      },
      body: "Ttl=600",
    });
  });

  it("sends exactly that to the fake, with the auth token as the password", async () => {
    const { status, body } = await call(env());
    expect(status).toBe(200);
    expect(body.provider).toBe("twilio");
    expect(fake.requests).toHaveLength(1);
    const [sent] = fake.requests;
    expect(sent.method).toBe("POST");
    expect(sent.path).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Tokens.json`);
    expect(sent.headers.authorization).toBe(basic(ACCOUNT_SID, AUTH_TOKEN));
    expect(sent.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(sent.body).toBe("Ttl=900");
  });

  it("signs in with an API key SID and secret when those are set", async () => {
    const { status } = await call(env({ TWILIO_AUTH_TOKEN: "", TWILIO_API_KEY_SID: API_KEY_SID, TWILIO_API_KEY_SECRET: API_KEY_SECRET }));
    expect(status).toBe(200);
    expect(fake.requests[0].headers.authorization).toBe(basic(API_KEY_SID, API_KEY_SECRET));
  });
});

describe("Twilio answers", () => {
  it("hands out the token's servers with urls only (no legacy url), the credential on the TURN ones", async () => {
    const { body } = await call(env());
    expect(body.iceServers).toHaveLength(4);
    expect(body.iceServers.flatMap((server: { urls: string[] }) => server.urls)).toEqual(TWILIO_DOCUMENTED_URLS);
    for (const server of body.iceServers)
      expect(Object.keys(server).sort()).toEqual(server.urls[0].startsWith("stun:") ? ["urls"] : ["credential", "urls", "username"]);
    expect(JSON.stringify(body)).not.toContain('"url"');
  });

  it("goes through the compact set like any provider", async () => {
    const { body } = await call(env({ TURN_URL_SET: "compact" }));
    expect(body.iceServers.flatMap((server: { urls: string[] }) => server.urls)).toEqual([
      "stun:global.stun.twilio.com:3478",
      "turn:global.turn.twilio.com:3478?transport=udp",
      "turn:global.turn.twilio.com:443?transport=tcp",
    ]);
  });

  it("asks for no more than Twilio's 24 hours, and the answer's expiry and revoke token say 24 hours", async () => {
    const started = Date.now();
    const { status, body } = await call(env({ REVOKE_SIGNING_SECRET: SIGNING }), "/api/ice-servers?ttl=172800");
    expect(status).toBe(200);
    expect(fake.requests[0].body).toBe("Ttl=86400");
    expect(body.ttl).toBe(86_400);
    const expiresAt = Date.parse(body.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(started + 86_400_000 - 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 86_400_000 + 1000);
    const verified = await verifyRevokeToken(SIGNING, body.revokeToken, Date.now(), keys);
    expect(verified.ok && verified.claims.expiresAt).toBe(Math.ceil(expiresAt / 1000));
  });

  it("reports the ttl Twilio granted when it is less than asked", async () => {
    const short = await startFakeTwilio({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, grant: () => 300 });
    try {
      const { body } = await call(env({ TWILIO_API_BASE: short.apiBase }));
      expect(short.requests[0].body).toBe("Ttl=900");
      expect(body.ttl).toBe(300);
    } finally {
      await short.close();
    }
  });

  it("reads the documented string ttl, and refuses a token without one or without servers", () => {
    const reply = (status: number, json: unknown) => ({
      status,
      headers: new Headers({ "content-type": "application/json" }),
      body: JSON.stringify(json),
    });
    const servers = [{ url: "stun:s.example:3478", urls: "stun:s.example:3478" }];
    expect(processTwilioToken(reply(201, { ttl: "60", ice_servers: servers }))).toEqual({
      iceServers: [{ urls: ["stun:s.example:3478"] }],
      ttl: 60,
    });
    for (const bad of [
      { ice_servers: servers },
      { ttl: "60", ice_servers: [] },
      { ttl: "soon", ice_servers: servers },
      { ttl: "60", ice_servers: null },
    ]) {
      expect(thrownBy(() => processTwilioToken(reply(201, bad))).code).toBe("upstream_invalid_response");
    }
  });

  it.each([
    [twilioError(401, 20003, "Authenticate"), 502, "upstream_unauthorized"],
    [twilioError(403, 20003, "Permission denied"), 502, "upstream_unauthorized"],
    [twilioError(404, 20404, "The requested resource was not found"), 502, "upstream_error"],
    [twilioError(400, 20001, "Invalid Ttl"), 502, "upstream_error"],
    [twilioError(429, 20429, "Too Many Requests"), 503, "upstream_rate_limited"],
    [twilioError(503, 20503, "Service unavailable"), 503, "upstream_unavailable"],
    [twilioError(500, 20500, "Internal Server Error"), 502, "upstream_error"],
  ])("maps Twilio's error %j to %i %s, never echoing its body", async (reply, status, code) => {
    fake.setFault({ kind: "status", status: reply.status, body: JSON.stringify(reply.body) });
    const answer = await call(env());
    expect(answer.status).toBe(status);
    expect(answer.body.error.code).toBe(code);
    expect(JSON.stringify(answer.body)).not.toContain((reply.body as { message: string }).message);
    expect(answer.body.error.message).not.toContain("more_info");
  });

  it("logs a refused key for the operator, naming the variables, when the auth token is wrong", async () => {
    const answer = await call(env({ TWILIO_AUTH_TOKEN: `${AUTH_TOKEN}-wrong` }));
    expect(answer.status).toBe(502);
    expect(answer.body.error.code).toBe("upstream_unauthorized");
    expect(answer.lines.some((line) => line.startsWith("OPERATOR: Twilio refused") && line.includes("TWILIO_AUTH_TOKEN"))).toBe(true);
  });
});

describe("Twilio revocation", () => {
  it("answers 409 not_revocable without calling Twilio: its tokens cannot be revoked", async () => {
    const vars = env({ REVOKE_SIGNING_SECRET: SIGNING });
    const issued = await call(vars);
    expect(issued.body.revokeToken).toEqual(expect.any(String));
    fake.reset();
    const answer = await call(vars, "/api/ice-servers/revoke", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ revokeToken: issued.body.revokeToken }),
    });
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe("not_revocable");
    expect(answer.body.error.message).toContain("Twilio");
    expect(fake.requests).toHaveLength(0);
  });
});
