const encoder = new TextEncoder();

/** The HMAC key for a secret. */
export type HmacKeys = (secret: string, hash: "SHA-1" | "SHA-256") => Promise<CryptoKey>;

/**
 * HMAC keys, each imported once and kept for the life of the service instance that holds them:
 * importing a key costs about as much as signing with it.
 */
export function hmacKeys(): HmacKeys {
  const keys = new Map<string, Promise<CryptoKey>>();
  return (secret, hash) => {
    const id = `${hash}\u0000${secret}`;
    let key = keys.get(id);
    if (!key) {
      key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash }, false, ["sign", "verify"]);
      keys.set(id, key);
    }
    return key;
  };
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
