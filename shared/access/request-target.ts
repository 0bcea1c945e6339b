import { ServiceError } from "../errors.ts";

// What a Host header may hold: a name, an IPv4 or a bracketed IPv6 address, and a port.
const HOST = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

const notAPath = () =>
  new ServiceError(
    "invalid_request",
    "the request-target must be a plain path such as /api/ice-servers, on the host the request was sent to",
  );

/**
 * Refuses a request whose URL names another host than its Host header, or whose path
 * starts with two slashes. Both come from a request-target that is not a plain path
 * (`GET //evil.example/…`, `GET http://evil.example/…`), which a launcher resolving it
 * against the Host header turns into a URL on a host the caller picked.
 */
export function checkRequestTarget(request: Request, url: URL, urlFromRequestTarget = true): void {
  if (url.pathname.startsWith("//")) throw notAPath();
  if (!urlFromRequestTarget) return;
  const host = request.headers.get("host")?.trim();
  // In-process callers (tests, some runtimes) build a Request with no Host header at all.
  if (host === undefined) return;
  if (!HOST.test(host)) throw new ServiceError("invalid_request", "the Host header is not a host name");
  let sentTo: string;
  try {
    sentTo = new URL(`${url.protocol}//${host}`).host;
  } catch {
    throw new ServiceError("invalid_request", "the Host header is not a host name");
  }
  if (sentTo !== url.host) throw notAPath();
}
