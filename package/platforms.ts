/**
 * Readers of what a platform sets on each request and a client cannot forge. Use one only
 * when the app runs on that platform: elsewhere the same header is whatever the caller sent.
 */
import { routedOrigin } from "../shared/hosts/routed-origin.ts";
import {
  vercelClientIp as vercelHeadersClientIp,
  vercelLocation as vercelHeadersLocation,
  vercelOwnOrigins as vercelSiteOrigins,
} from "../shared/hosts/vercel.ts";
import type { CallerLocation } from "../shared/routing/location.ts";
import { runtimeEnv } from "./runtime-env.ts";

/** Vercel: x-real-ip, else the first x-forwarded-for hop (both set at Vercel's edge). */
export const vercelClientIp = (request: Request): string | undefined => vercelHeadersClientIp(request.headers);

/** Vercel: x-vercel-ip-country and x-vercel-ip-continent (set at Vercel's edge), for TURN_ROUTES. */
export const vercelLocation = (request: Request): CallerLocation => vercelHeadersLocation(request.headers);

/** Netlify: x-nf-client-connection-ip, which Netlify's edge sets on every request it routes. */
export const netlifyClientIp = (request: Request): string | undefined =>
  request.headers.get("x-nf-client-connection-ip")?.trim() || undefined;

/**
 * Vercel: this deployment's URL, its branch URL and the project's production domain (Vercel's
 * system variables), and the host Vercel routed the request by.
 */
export const vercelOwnOrigins = (request: Request): string[] => vercelSiteOrigins(request, runtimeEnv());

/** Netlify: the host Netlify routed the request by, which only reaches this site's deploys. */
export const netlifyOwnOrigins = (request: Request): string[] => routedOrigin(request.headers);
