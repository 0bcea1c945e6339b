/**
 * Where a hosted deployment is served, for same-origin checks: what each platform knows
 * about the site, never the request URL (whose host a launcher builds from the
 * request-target). The Host header counts because every host here routes by it: a request
 * reaches a deployment only through a host assigned to it, so a page on any other host cannot
 * be served from one of ours. Each platform's own facts are in its file beside this one.
 */

/** The host the platform routed the request by, as an https origin. */
export function routedOrigin(headers: Headers): string[] {
  const host = headers.get("host")?.trim();
  return host ? [`https://${host}`] : [];
}
