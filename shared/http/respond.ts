import { ServiceError } from "../errors.ts";

// Credentials must never sit in a shared cache, and JSON must never be sniffed as HTML.
const NO_STORE = { "cache-control": "no-store", "x-content-type-options": "nosniff" } as const;

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...NO_STORE, ...headers },
  });
}

/** A 204 with the same caching rules as every other answer. */
export function noContent(headers: Record<string, string> = {}): Response {
  return new Response(null, { status: 204, headers: { ...NO_STORE, ...headers } });
}

/** The one place an error becomes an answer: a ServiceError as it is, anything else as a bare 500. */
export function errorResponse(error: unknown): Response {
  const known = error instanceof ServiceError ? error : new ServiceError("internal_error", "the server failed to handle the request");
  return jsonResponse(known.status, { error: { code: known.code, message: known.message } }, known.headers);
}
