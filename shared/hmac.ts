const encoder = new TextEncoder();

export type HmacHash = "SHA-1" | "SHA-256";

/**
 * HMAC as the core uses it: shared-secret credentials and revoke tokens. WebCrypto's by default
 * (webCryptoHmac); the Node hosts give node:crypto's (node/hmac.ts), which a cold start loads
 * about 1 ms sooner (docs/architecture.md).
 */
export interface Hmac {
  sign(secret: string, hash: HmacHash, data: Uint8Array<ArrayBuffer>): Promise<Uint8Array>;
  /** Compares in constant time. */
  verify(secret: string, hash: HmacHash, signature: Uint8Array<ArrayBuffer>, data: Uint8Array<ArrayBuffer>): Promise<boolean>;
}

/**
 * WebCrypto's HMAC, with each key imported once and kept for the life of the service instance
 * that holds it: importing a key costs about as much as signing with it.
 */
export function webCryptoHmac(): Hmac {
  const keys = new Map<string, Promise<CryptoKey>>();
  const keyFor = (secret: string, hash: HmacHash) => {
    const id = `${hash}\u0000${secret}`;
    let key = keys.get(id);
    if (!key) {
      key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash }, false, ["sign", "verify"]);
      keys.set(id, key);
    }
    return key;
  };
  return {
    sign: async (secret, hash, data) => new Uint8Array(await crypto.subtle.sign("HMAC", await keyFor(secret, hash), data)),
    verify: async (secret, hash, signature, data) => crypto.subtle.verify("HMAC", await keyFor(secret, hash), signature, data),
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
