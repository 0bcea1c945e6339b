import { createHmac } from "node:crypto";
import type { Hmac } from "../shared/hmac.ts";

const NODE_NAMES = { "SHA-1": "sha1", "SHA-256": "sha256" } as const;

/** node:crypto's HMAC: synchronous, so no hop to another thread per signature as with crypto.subtle. */
export const nodeHmac: Hmac = (hash, secret, message) => createHmac(NODE_NAMES[hash], secret).update(message).digest();
