// The client's one error type, and how keepFresh and createIceSource treat each failure.

/**
 * Every failure of this client. `code` is the server's own error code (such as `invalid_ttl`,
 * `upstream_unavailable`) when it answered one, or one of the client's codes (see
 * turn-client.d.ts, IceServersClientErrorCode). `status` is the HTTP status, or 0 when there was
 * no answer.
 */
export class IceServersError extends Error {
  constructor(code, message, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "IceServersError";
    this.code = code;
    this.status = details.status ?? 0;
    if (details.retryAfter !== undefined) this.retryAfter = details.retryAfter;
  }
}

/**
 * Whether asking again may help: no answer (network, timeout), the server's or a proxy's fault
 * (5xx), "too soon" (408, 429), a 401 when the headers come from a function (it may give a
 * renewed token next time), a 200 we could not use. Any other 4xx is the same on every retry
 * (an origin not allowed, a bad ttl): asking again soon only burns requests.
 */
export function isRetryable(error, { headersFromFunction }) {
  const status = error?.status ?? 0;
  if (status >= 500 || status === 0 || status === 200) return true;
  if (status === 408 || status === 429) return true;
  if (status === 401) return headersFromFunction;
  return status < 400;
}
