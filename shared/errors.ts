/**
 * Every failure the service can answer with, keyed by its stable code.
 * This table is the one place that maps an error to an HTTP status.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_ttl: 400,
  invalid_json: 400,
  unauthorized: 401,
  origin_not_allowed: 403,
  invalid_revoke_token: 403,
  revoke_token_expired: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  not_revocable: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  host_not_allowed: 421,
  rate_limited: 429,
  user_quota_exceeded: 429,
  not_configured: 500,
  invalid_config: 500,
  internal_error: 500,
  upstream_unauthorized: 502,
  upstream_error: 502,
  upstream_invalid_response: 502,
  upstream_unreachable: 502,
  upstream_rate_limited: 503,
  upstream_unavailable: 503,
  auth_unavailable: 503,
  rate_limit_unavailable: 503,
  spend_limit_reached: 503,
  upstream_timeout: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * A failure we expect and answer on purpose. `message` is shown to the caller,
 * so it must never carry a secret, an upstream body or an upstream URL.
 */
export class ServiceError extends Error {
  readonly code: ErrorCode;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = "ServiceError";
    this.code = code;
    this.headers = headers;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}
