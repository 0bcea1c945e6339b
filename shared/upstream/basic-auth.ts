import { base64 } from "../hmac.ts";

const encoder = new TextEncoder();

/**
 * An HTTP Basic Authorization header value (RFC 7617), UTF-8 encoded. The user id
 * cannot hold a colon, the separator: configuration refuses one before we get here.
 */
export function basicAuthorization(user: string, password: string): string {
  return `Basic ${base64(encoder.encode(`${user}:${password}`))}`;
}
