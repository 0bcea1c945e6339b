/** What Netlify knows about a request, for its entry points (functions/, netlify/edge-functions/). */
import type { CallerLocation } from "../routing/location.ts";
import { routedOrigin } from "./routed-origin.ts";

/** What Netlify's Context says about the site: the same fields on the Node and the Deno runtimes. */
export interface NetlifySiteFacts {
  site?: { url?: string; name?: string };
  deploy?: { id?: string };
  /** Where Netlify's edge placed the caller: the same on Functions and Edge Functions. */
  geo?: { country?: { code?: string } };
}

/** The site's main URL, this deploy's permalink, and the host the request was routed by. */
export function netlifyOwnOrigins(request: Request, context: NetlifySiteFacts): string[] {
  const origins = routedOrigin(request.headers);
  const { site, deploy } = context;
  if (site?.url) origins.push(site.url);
  if (deploy?.id && site?.name) origins.push(`https://${deploy.id}--${site.name}.netlify.app`);
  return origins;
}

/**
 * The caller's country from Netlify's `context.geo`, which Netlify fills in from the connection;
 * no header is read. Netlify names no continent: shared/routing/continents.ts supplies it.
 */
export function netlifyLocation(context: NetlifySiteFacts): CallerLocation {
  return { country: context.geo?.country?.code };
}
