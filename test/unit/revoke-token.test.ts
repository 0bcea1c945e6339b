import { describe, expect, it } from "vitest";
import { signRevokeToken, verifyRevokeToken } from "../../shared/revocation/revoke-token.ts";
import { secret } from "../helpers/secrets.ts";
import { type Hmac, webCryptoHmac } from "../../shared/hmac.ts";
import { nodeHmac } from "../../node/hmac.ts";

// WebCrypto's, as Deno and Workers sign, and node:crypto's, as the Node hosts do.
const HMACS: [string, Hmac][] = [
  ["WebCrypto", webCryptoHmac()],
  ["node:crypto", nodeHmac],
];

const SECRET = secret("revoke-signing-secret-0123456789abcdef");
const NOW = Date.UTC(2030, 0, 1);
const CLAIMS = { provider: "cloudflare" as const, username: "bc91b63e2b5d", expiresAt: NOW / 1000 + 600 };

function flip(text: string, at: number): string {
  const swapped = text[at] === "A" ? "B" : "A";
  return `${text.slice(0, at)}${swapped}${text.slice(at + 1)}`;
}

describe.each(HMACS)("revoke tokens (%s)", (_name, hmac) => {
  it("round-trips the provider, the username, the expiry and the user", async () => {
    const token = await signRevokeToken(SECRET, { ...CLAIMS, user: "alice" }, hmac);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(await verifyRevokeToken(SECRET, token, NOW, hmac)).toEqual({ ok: true, claims: { ...CLAIMS, user: "alice" } });
  });

  it("refuses a token signed with another secret", async () => {
    const token = await signRevokeToken("another-secret-of-the-same-length-000000", CLAIMS, hmac);
    expect(await verifyRevokeToken(SECRET, token, NOW, hmac)).toEqual({ ok: false, reason: "forged" });
  });

  it("refuses a tampered payload or signature", async () => {
    const token = await signRevokeToken(SECRET, CLAIMS, hmac);
    const [payload, signature] = token.split(".");
    const otherUser = Buffer.from(JSON.stringify({ p: "cloudflare", n: "someone-else", e: CLAIMS.expiresAt })).toString("base64url");
    expect((await verifyRevokeToken(SECRET, `${otherUser}.${signature}`, NOW, hmac)).ok).toBe(false);
    expect((await verifyRevokeToken(SECRET, `${payload}.${flip(signature, 3)}`, NOW, hmac)).ok).toBe(false);
    expect((await verifyRevokeToken(SECRET, `${flip(payload, 5)}.${signature}`, NOW, hmac)).ok).toBe(false);
  });

  it("refuses a signature cut short", async () => {
    const token = await signRevokeToken(SECRET, CLAIMS, hmac);
    expect(await verifyRevokeToken(SECRET, token.slice(0, -4), NOW, hmac)).toEqual({ ok: false, reason: "forged" });
  });

  it("refuses a token past the credential's expiry, even when genuine", async () => {
    const token = await signRevokeToken(SECRET, CLAIMS, hmac);
    expect(await verifyRevokeToken(SECRET, token, CLAIMS.expiresAt * 1000, hmac)).toEqual({ ok: false, reason: "expired" });
    expect((await verifyRevokeToken(SECRET, token, CLAIMS.expiresAt * 1000 - 1, hmac)).ok).toBe(true);
  });

  it.each(["", "abc", "a.b.c", "!!!.???", `${"A".repeat(3000)}.x`, "eyJwIjoiY2xvdWRmbGFyZSJ9."])(
    "refuses the malformed token %j",
    async (token) => {
      const result = await verifyRevokeToken(SECRET, token, NOW, hmac);
      expect(result.ok).toBe(false);
    },
  );
});

it("a token signed with either HMAC verifies with the other", async () => {
  const [[, web], [, node]] = HMACS;
  expect(await verifyRevokeToken(SECRET, await signRevokeToken(SECRET, CLAIMS, web), NOW, node)).toEqual({ ok: true, claims: CLAIMS });
  expect(await verifyRevokeToken(SECRET, await signRevokeToken(SECRET, CLAIMS, node), NOW, web)).toEqual({ ok: true, claims: CLAIMS });
});
