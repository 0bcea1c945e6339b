/**
 * What Cloudflare Workers know about a request, for workers/ice-servers.ts. A Worker is reached
 * only through the hosts assigned to it, so the host it was routed by counts as our own
 * origin; there is no system variable naming the deployment's URL.
 */
import type { Env } from "../env.ts";
import type { HandleOptions } from "../handle-options.ts";
import { routedOrigin } from "./routed-origin.ts";

/**
 * The Worker's plain-text variables and secrets. Other bindings (KV, rate limiters…) are
 * objects, and no variable of ours is one.
 */
export function workersEnv(bindings: Record<string, unknown>): Env {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(bindings)) if (typeof value === "string") env[name] = value;
  return env;
}

/**
 * Cloudflare sets CF-Connecting-IP at its edge, replacing whatever the client sent, so it is
 * the one client-address header a Worker can trust (X-Forwarded-For keeps the client's hops).
 * Without it (a request Cloudflare did not route, as under some local tools) the core counts the
 * caller under the shared allowance.
 */
export const workersClientIp = (headers: Headers): string | undefined => headers.get("cf-connecting-ip")?.trim() || undefined;

export function workersHostFacts(request: Request): HandleOptions {
  return {
    clientIp: workersClientIp(request.headers),
    ownOrigins: routedOrigin(request.headers),
  };
}
