/**
 * Readers of what a platform sets on each request and a client cannot forge. Each means something
 * only on its platform: elsewhere the same header is whatever the caller sent. createHandler reads
 * the one of the platform it runs on (platformClientIp), found from what that platform's runtime
 * sets and a request cannot: its environment variables, or the runtime's own name.
 */
import { routedOrigin } from "../shared/hosts/routed-origin.ts";
import { vercelClientIp as vercelHeadersClientIp, vercelOwnOrigins as vercelSiteOrigins } from "../shared/hosts/vercel.ts";
import { workersClientIp } from "../shared/hosts/workers.ts";
import { runtimeEnv } from "./runtime-env.ts";

/** Vercel: x-real-ip, else the first x-forwarded-for hop (both set at Vercel's edge). */
export const vercelClientIp = (request: Request): string | undefined => vercelHeadersClientIp(request.headers);

/** Netlify: x-nf-client-connection-ip, which Netlify's edge sets on every request it routes. */
export const netlifyClientIp = (request: Request): string | undefined =>
  request.headers.get("x-nf-client-connection-ip")?.trim() || undefined;

/** Cloudflare (Workers, and Pages Functions, which run on Workers): CF-Connecting-IP, set at Cloudflare's edge. */
export const cloudflareClientIp = (request: Request): string | undefined => workersClientIp(request.headers);

/**
 * Vercel: this deployment's URL, its branch URL and the project's production domain (Vercel's
 * system variables), and the host Vercel routed the request by.
 */
export const vercelOwnOrigins = (request: Request): string[] => vercelSiteOrigins(request, runtimeEnv());

/** Netlify: the host Netlify routed the request by, which only reaches this site's deploys. */
export const netlifyOwnOrigins = (request: Request): string[] => routedOrigin(request.headers);

export type Platform = "vercel" | "netlify" | "cloudflare";

type PlatformGlobals = { Netlify?: unknown; navigator?: { userAgent?: string } };

/**
 * The platform this code runs on, from what only the platform sets: Vercel's system variable
 * `VERCEL=1`; Netlify's `NETLIFY=true` (builds, `netlify dev`) or the `Netlify` global its
 * functions and edge functions runtimes define; Cloudflare's Workers runtime, which names itself
 * in `navigator.userAgent`. Undefined anywhere else.
 */
export function detectPlatform(env = runtimeEnv(), globals = globalThis as PlatformGlobals): Platform | undefined {
  if (env.VERCEL === "1") return "vercel";
  if (env.NETLIFY === "true" || (typeof globals.Netlify === "object" && globals.Netlify !== null)) return "netlify";
  if (globals.navigator?.userAgent === "Cloudflare-Workers") return "cloudflare";
  return undefined;
}

const PLATFORM_CLIENT_IP: Record<Platform, (request: Request) => string | undefined> = {
  vercel: vercelClientIp,
  netlify: netlifyClientIp,
  cloudflare: cloudflareClientIp,
};

/** The client's address as the platform this runs on sets it; undefined off those platforms. */
export function platformClientIp(request: Request): string | undefined {
  const platform = detectPlatform();
  return platform && PLATFORM_CLIENT_IP[platform](request);
}
