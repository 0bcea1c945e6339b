import * as v from "valibot";
import { base64url, type Hmac } from "../hmac.ts";
import { PROVIDER_IDS, type ProviderId } from "../providers/index.ts";

/**
 * A revoke token lets the holder revoke one credential and nothing else: it binds
 * the provider, the TURN username, the expiry and (when there was one) the
 * verified user, under an HMAC-SHA256 only this server can compute. It is opaque
 * to the client: "<payload>.<signature>", both base64url.
 */
export interface RevokeClaims {
  provider: ProviderId;
  username: string;
  /** Unix seconds: the credential's own expiry, after which there is nothing to revoke. */
  expiresAt: number;
  user?: string;
}

const encoder = new TextEncoder();

function fromBase64url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(binary, (char) => char.charCodeAt(0));
  } catch {
    return undefined;
  }
}

export async function signRevokeToken(secret: string, claims: RevokeClaims, hmac: Hmac): Promise<string> {
  const payload = encoder.encode(
    JSON.stringify({
      p: claims.provider,
      n: claims.username,
      e: claims.expiresAt,
      ...(claims.user !== undefined ? { s: claims.user } : {}),
    }),
  );
  const signature = await hmac.sign(secret, "SHA-256", payload);
  return `${base64url(payload)}.${base64url(signature)}`;
}

const Payload = v.object({
  p: v.picklist(PROVIDER_IDS),
  n: v.pipe(v.string(), v.minLength(1), v.maxLength(512)),
  e: v.pipe(v.number(), v.integer()),
  s: v.optional(v.string()),
});

export type VerifyResult = { ok: true; claims: RevokeClaims } | { ok: false; reason: "malformed" | "forged" | "expired" };

/** Checks the signature first (Hmac.verify compares in constant time), then the expiry. */
export async function verifyRevokeToken(secret: string, token: string, nowMs: number, hmac: Hmac): Promise<VerifyResult> {
  const parts = token.split(".");
  if (parts.length !== 2 || token.length > 2048) return { ok: false, reason: "malformed" };
  const payload = fromBase64url(parts[0]);
  const signature = fromBase64url(parts[1]);
  if (!payload || !signature) return { ok: false, reason: "malformed" };
  if (!(await hmac.verify(secret, "SHA-256", signature, payload))) return { ok: false, reason: "forged" };
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return { ok: false, reason: "malformed" };
  }
  const parsed = v.safeParse(Payload, json);
  if (!parsed.success) return { ok: false, reason: "malformed" };
  const { p, n, e, s } = parsed.output;
  if (e * 1000 <= nowMs) return { ok: false, reason: "expired" };
  return { ok: true, claims: { provider: p, username: n, expiresAt: e, ...(s !== undefined ? { user: s } : {}) } };
}
