/**
 * node:crypto's HMAC for the Node hosts. WebCrypto's first key costs a cold start about 1 ms more:
 * Node loads its WebIDL and key code for it, where node:crypto is loaded already (TLS needs it).
 * Measured in docs/architecture.md; the two give the same bytes (test/unit/shared-secret.test.ts,
 * test/unit/revoke-token.test.ts).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Hmac, HmacHash } from "../shared/hmac.ts";

const ALGORITHM: Readonly<Record<HmacHash, string>> = { "SHA-1": "sha1", "SHA-256": "sha256" };

const digest = (secret: string, hash: HmacHash, data: Uint8Array) => createHmac(ALGORITHM[hash], secret).update(data).digest();

export const nodeHmac: Hmac = {
  sign: async (secret, hash, data) => digest(secret, hash, data),
  verify: async (secret, hash, signature, data) => {
    const expected = digest(secret, hash, data);
    return signature.byteLength === expected.byteLength && timingSafeEqual(signature, expected);
  },
};
