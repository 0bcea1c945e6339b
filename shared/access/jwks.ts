/**
 * The identity provider's key set, fetched and cached by jose, with a back-off
 * after a failed fetch that jose does not have: its cooldown only spaces out
 * refetches after a success, so while the provider is failing every token would
 * cost another fetch. During the back-off no fetch is made and verification
 * fails at once with KeySetBackoff; keys already cached still verify.
 */
import type { JWTVerifyGetKey } from "jose";

type Jose = typeof import("jose");
type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

// The first retry after a failure, doubling while the provider keeps failing.
export const JWKS_BACKOFF_FIRST_MS = 1000;
export const JWKS_BACKOFF_MAX_MS = 30_000;

/** Thrown instead of fetching while the back-off lasts. */
export class KeySetBackoff extends Error {
  constructor(readonly retryAfterMs: number) {
    super("the key set failed to load recently; not fetching again yet");
    this.name = "KeySetBackoff";
  }
}

/**
 * Whether verification failed for want of the key set, rather than because of the
 * token: jose reports a failed fetch as a timeout, an invalid key set, a bare
 * JOSEError (a status other than 200, a body that is not JSON), or fetch's own error.
 */
export function isKeySetFailure(jose: Jose, error: unknown): boolean {
  const { errors } = jose;
  return (
    error instanceof errors.JWKSTimeout ||
    error instanceof errors.JWKSInvalid ||
    !(error instanceof errors.JOSEError) ||
    error.constructor === errors.JOSEError
  );
}

export function remoteKeySet(jose: Jose, url: string, fetch: Fetch = globalThis.fetch, now: () => number = Date.now): JWTVerifyGetKey {
  let attempts = 0;
  let failedAttempt = 0;
  let failures = 0;
  let retryAt = 0;

  const gatedFetch: Fetch = (input, init) => {
    const waitMs = retryAt - now();
    if (waitMs > 0) return Promise.reject(new KeySetBackoff(waitMs));
    attempts += 1;
    return fetch(input, init);
  };
  const remote = jose.createRemoteJWKSet(new URL(url), { timeoutDuration: 2000, cooldownDuration: 30_000, [jose.customFetch]: gatedFetch });

  return async (header, token) => {
    try {
      const key = await remote(header, token);
      failures = 0;
      return key;
    } catch (error) {
      // Callers waiting on one fetch share its failure: it is counted once.
      if (!(error instanceof KeySetBackoff) && isKeySetFailure(jose, error) && failedAttempt !== attempts) {
        failedAttempt = attempts;
        retryAt = now() + Math.min(JWKS_BACKOFF_FIRST_MS * 2 ** failures, JWKS_BACKOFF_MAX_MS);
        failures += 1;
      }
      throw error;
    }
  };
}
