/** What Vercel knows about a request, for its entry points (api/). */
import type { CallerLocation } from "../routing/location.ts";
import { routedOrigin } from "./routed-origin.ts";

// Vercel's system variables: host names without a scheme.
const VERCEL_URL_VARIABLES = ["VERCEL_URL", "VERCEL_BRANCH_URL", "VERCEL_PROJECT_PRODUCTION_URL"] as const;

/** This deployment's URL, its branch URL, the project's production domain, and the host the request was routed by. */
export function vercelOwnOrigins(request: Request, env: Record<string, string | undefined>): string[] {
  const origins = routedOrigin(request.headers);
  for (const name of VERCEL_URL_VARIABLES) {
    const host = env[name]?.trim();
    if (host) origins.push(`https://${host}`);
  }
  return origins;
}

/**
 * The client's address on Vercel. Vercel sets x-real-ip and overwrites
 * x-forwarded-for at its edge, so neither can be forged from outside; the first
 * x-forwarded-for hop is the client.
 */
export function vercelClientIp(headers: Headers): string | undefined {
  const real = headers.get("x-real-ip")?.trim();
  if (real) return real;
  const first = headers.get("x-forwarded-for")?.split(",")[0]?.trim();
  return first || undefined;
}

/**
 * Where Vercel's edge placed the caller: x-vercel-ip-country and x-vercel-ip-continent, which
 * it sets on every request and overwrites when a client sends them. Only on Vercel: anywhere
 * else the same headers are whatever the caller sent.
 */
export function vercelLocation(headers: Headers): CallerLocation {
  return { country: headers.get("x-vercel-ip-country"), continent: headers.get("x-vercel-ip-continent") };
}
