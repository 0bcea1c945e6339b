export type HmacHash = "SHA-1" | "SHA-256";

/**
 * HMAC of `message` under `secret`, raw bytes. Injectable because the web
 * standard one, crypto.subtle, hands each signature to another thread: on Node
 * that costs about 40 µs of CPU, where node:crypto's synchronous HMAC costs 3 µs.
 * The Node adapters pass that one (node/hmac.ts); Deno and the tests use this default.
 */
export type Hmac = (hash: HmacHash, secret: string, message: string | Uint8Array) => Uint8Array | Promise<Uint8Array>;

const encoder = new TextEncoder();
// Importing a key costs about as much as signing with it: once per secret per instance.
const keys = new Map<string, Promise<CryptoKey>>();

/** An HMAC key for `secret`, imported once and kept for the life of the instance. */
function hmacKey(secret: string, hash: HmacHash): Promise<CryptoKey> {
  const id = `${hash}\u0000${secret}`;
  let key = keys.get(id);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash }, false, ["sign", "verify"]);
    keys.set(id, key);
  }
  return key;
}

export const subtleHmac: Hmac = async (hash, secret, message) => {
  const bytes = typeof message === "string" ? encoder.encode(message) : message;
  return new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret, hash), bytes as Uint8Array<ArrayBuffer>));
};

/** Compares two MACs in time that does not depend on where they differ. */
export function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i += 1) difference |= a[i] ^ b[i];
  return difference === 0;
}

/** Standard base64, as coturn's TURN REST credentials use. */
export function base64(bytes: ArrayBuffer | Uint8Array): string {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** URL-safe base64 without padding, for tokens that travel in JSON and URLs. */
export function base64url(bytes: ArrayBuffer | Uint8Array): string {
  return base64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
