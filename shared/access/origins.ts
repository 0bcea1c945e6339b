import { readList, type Env } from "../env.ts";
import { ServiceError } from "../errors.ts";
import { isPublicSuffix } from "./public-suffixes.ts";

/**
 * Which web pages may call the endpoint from a browser. This is a browser-side
 * protection only: a script outside a browser can send any Origin it likes.
 */
export type OriginPolicy =
  /** ALLOWED_ORIGINS unset: the page's own origin only, and under npm start any localhost too. */
  | { kind: "default" }
  /** ALLOWED_ORIGINS=*: any origin, reflected (never a literal *), by explicit choice. */
  | { kind: "any" }
  | { kind: "list"; exact: ReadonlySet<string>; suffixes: readonly { scheme: string; suffix: string }[] };

const ORIGIN = /^(https?):\/\/(\*\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)*)(:\d{1,5})?$/;

export function configureOrigins(env: Env): OriginPolicy {
  const entries = readList(env, "ALLOWED_ORIGINS").map((entry) => entry.toLowerCase().replace(/\/+$/, ""));
  if (entries.length === 0) return { kind: "default" };
  if (entries.length === 1 && entries[0] === "*") return { kind: "any" };
  const exact = new Set<string>();
  const suffixes: { scheme: string; suffix: string }[] = [];
  entries.forEach((entry, index) => {
    const match = ORIGIN.exec(entry);
    if (!match) {
      throw new ServiceError(
        "invalid_config",
        `ALLOWED_ORIGINS entry ${index + 1} is not an origin such as https://app.example.com or https://*.example.com`,
      );
    }
    const [, scheme, wildcard, host, port = ""] = match;
    if (wildcard && isPublicSuffix(host)) {
      throw new ServiceError(
        "invalid_config",
        `ALLOWED_ORIGINS entry ${index + 1} is a wildcard over a public suffix, where anyone can own a subdomain: name a domain of yours, such as https://*.example.com`,
      );
    }
    if (wildcard) suffixes.push({ scheme, suffix: `.${host}${port}` });
    else exact.add(entry);
  });
  return { kind: "list", exact, suffixes };
}

const LOCALHOST = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/;

/** The request's Origin, when a browser sent one. */
export function requestOrigin(request: Request): string | undefined {
  return request.headers.get("origin")?.trim().toLowerCase() || undefined;
}

/** The host of each of `origins` that parses; a malformed one names no host. */
function hostsOf(origins: readonly string[]): Set<string> {
  const hosts = new Set<string>();
  for (const origin of origins) {
    try {
      hosts.add(new URL(origin).host);
    } catch {}
  }
  return hosts;
}

/**
 * `ownOrigins` are where this deployment is served, as the host adapter knows them from
 * its own configuration or routing; never the request URL, whose host a caller can
 * shape (`GET //evil.example/…`, an absolute-form target, a forged Host).
 */
export function originAllowed(origin: string, policy: OriginPolicy, ownOrigins: readonly string[], local: boolean): boolean {
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  // Only a bare scheme://host[:port] is an origin ("null" from sandboxes and files is not).
  if (parsed.origin !== origin) return false;
  // Compared by host: a platform may know its https:// site while the function is handed http:// URLs.
  if (hostsOf(ownOrigins).has(parsed.host)) return true;
  switch (policy.kind) {
    case "default":
      return local && LOCALHOST.test(origin);
    case "any":
      return true;
    case "list":
      return (
        policy.exact.has(origin) ||
        policy.suffixes.some(
          ({ scheme, suffix }) =>
            origin.startsWith(`${scheme}://`) && origin.endsWith(suffix) && !origin.slice(scheme.length + 3).startsWith("."),
        )
      );
  }
}

export const CORS_ALLOWED_HEADERS = "authorization, content-type";
export const CORS_EXPOSED_HEADERS = "retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset";

/** Headers for an answer to an allowed cross-origin caller; never a wildcard. */
export function corsHeaders(origin: string): Record<string, string> {
  return {
    "access-control-allow-origin": origin,
    "access-control-expose-headers": CORS_EXPOSED_HEADERS,
  };
}
