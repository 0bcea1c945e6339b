import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../shared/config.ts";
import { createService } from "../../shared/service.ts";
import { turnRestCredential, turnRestUsername } from "../../shared/providers/shared-secret.ts";
import { secret } from "../helpers/secrets.ts";
import { thrownBy } from "../helpers/service-error.ts";
import { webCryptoHmac } from "../../shared/hmac.ts";
import { nodeHmac } from "../../node/hmac.ts";

// This file's own instance of the service.
const { handle } = createService();

const CURRENT = secret("current-shared-secret-0123456789abcdef");

// Computed independently of the code under test, with Node's own HMAC.
const expected = (secret: string, username: string) => createHmac("sha1", secret).update(username).digest("base64");

describe("TURN REST API credentials (coturn use-auth-secret)", () => {
  // WebCrypto's HMAC, as Deno and Workers sign, and node:crypto's, as the Node hosts do.
  it.each([
    ["north", "1700003600:alice"],
    ["a much longer secret with spaces and ünïcödé", "1999999999:5e8f2b1c-0d2e-4a6b-9c1d-3e5f7a9b0c2d"],
    ["x", "1:"],
  ])("signs %j with HMAC-SHA1 and base64, as coturn checks it", async (secret, username) => {
    expect(await turnRestCredential(secret, username, webCryptoHmac())).toBe(expected(secret, username));
    expect(await turnRestCredential(secret, username, nodeHmac)).toBe(expected(secret, username));
  });

  it("puts the unix expiry first: now + ttl, in whole seconds", () => {
    expect(turnRestUsername(Date.UTC(2030, 0, 1, 0, 0, 0, 999), 3600, "bob")).toBe(`${Date.UTC(2030, 0, 1) / 1000 + 3600}:bob`);
  });

  it("issues from the environment alone, stamping expiry and identity, signing with the first secret", async () => {
    const now = Date.UTC(2031, 5, 1);
    const env = {
      TURN_SHARED_SECRET: `${CURRENT},previous-secret-0123456789abcdefghij`,
      TURN_URLS: "stun:turn.example.test:3478, turn:turn.example.test:3478?transport=udp, turns:turn.example.test:443?transport=tcp",
    };
    const response = await handle(new Request("https://site.example/api/ice-servers?ttl=600"), env, { now: () => now });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.provider).toBe("shared-secret");
    expect(body.expiresAt).toBe(new Date(now + 600_000).toISOString());
    const [stun, turn] = body.iceServers;
    expect(stun).toEqual({ urls: ["stun:turn.example.test:3478"] });
    expect(turn.urls).toEqual(["turn:turn.example.test:3478?transport=udp", "turns:turn.example.test:443?transport=tcp"]);
    const [expiry, identity] = turn.username.split(":");
    expect(Number(expiry)).toBe(now / 1000 + 600);
    expect(identity).toMatch(/^[0-9a-f-]{36}$/);
    expect(turn.credential).toBe(expected(CURRENT, turn.username));
  });

  it("gives every request its own identity", async () => {
    const env = { TURN_SHARED_SECRET: CURRENT, TURN_URLS: "turn:t.example.test" };
    const names = new Set<string>();
    for (let i = 0; i < 5; i += 1) {
      const body = await (await handle(new Request("https://site.example/api/ice-servers"), env)).json();
      names.add(body.iceServers[0].username.split(":")[1]);
    }
    expect(names.size).toBe(5);
  });

  const HALF_SECRET = secret("shared-half-config-Secret-4k7Q9Lm2");
  it.each([
    [{ TURN_SHARED_SECRET: HALF_SECRET }, "not_configured", "TURN_URLS is not set"],
    [{ TURN_URLS: "turn:t.example" }, "not_configured", "TURN_SHARED_SECRET is not set"],
    [{ TURN_SHARED_SECRET: HALF_SECRET, TURN_URLS: "turn:t.example, https://nope.example" }, "invalid_config", "TURN_URLS entry 2"],
    // A secret holding a comma, split in two: the list is refused rather than signing with half of it.
    [
      { TURN_SHARED_SECRET: `${HALF_SECRET}, and more`, TURN_URLS: "turn:t.example" },
      "invalid_config",
      "TURN_SHARED_SECRET entry 2 begins or ends with whitespace",
    ],
    [{ TURN_SHARED_SECRET: `${HALF_SECRET},`, TURN_URLS: "turn:t.example" }, "invalid_config", "TURN_SHARED_SECRET entry 2 is empty"],
    [
      { TURN_SHARED_SECRET: `${HALF_SECRET},,${HALF_SECRET}`, TURN_URLS: "turn:t.example" },
      "invalid_config",
      "TURN_SHARED_SECRET entry 2 is empty",
    ],
    // Every answer carries HMAC-SHA1(secret, username): an offline oracle, so a short secret is refused.
    [
      { TURN_SHARED_SECRET: "x", TURN_URLS: "turn:t.example" },
      "invalid_config",
      "TURN_SHARED_SECRET entry 1 must be at least 32 characters",
    ],
    [
      { TURN_SHARED_SECRET: `${HALF_SECRET},${"y".repeat(31)}`, TURN_URLS: "turn:t.example" },
      "invalid_config",
      "TURN_SHARED_SECRET entry 2 must be at least 32 characters",
    ],
  ])("refuses a half or bad configuration %j", (env, code, message) => {
    const error = thrownBy(() => parseConfig(env));
    expect(error.message).toContain(message);
    expect(error.code).toBe(code);
    expect(error.message).not.toContain(HALF_SECRET);
  });
});
