/**
 * What Cloudflare Workers and Deno Deploy know about a request, for their entry points
 * (workers/ice-servers.ts, deno/serve.ts). Both platforms reach a deployment only through
 * the hosts assigned to it, so the host they routed by counts as our own origin, as on
 * Netlify and Vercel; neither has a system variable naming the deployment's URL.
 */
import type { HandleOptions } from "./handle.ts";
import { routedOrigin } from "./own-origins.ts";
import type { Env } from "./env.ts";

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
 */
export function workersHostFacts(request: Request): HandleOptions {
  return {
    clientIp: request.headers.get("cf-connecting-ip")?.trim() || undefined,
    ownOrigins: routedOrigin(request.headers),
  };
}

/** What `deno serve` hands a handler beside the request: the peer of the connection. */
export interface DenoConnectionInfo {
  remoteAddr: { transport: string; hostname?: string };
}

/** The connection's peer, which Deno Deploy reports as the client's address; no header is read. */
export function denoHostFacts(request: Request, info: DenoConnectionInfo): HandleOptions {
  const { remoteAddr } = info;
  return {
    clientIp: remoteAddr.transport === "tcp" ? remoteAddr.hostname : undefined,
    ownOrigins: routedOrigin(request.headers),
  };
}
