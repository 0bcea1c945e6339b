/**
 * Where a hosted deployment is served, for same-origin checks: what each platform
 * knows about the site, never the request URL (whose host a launcher builds from the
 * request-target). The Host header counts because Netlify and Vercel route by it: a
 * request reaches this deployment only through a host assigned to it, so a page on
 * any other host cannot be served from one of ours.
 */

/** The host the platform routed the request by, as an https origin. */
export function routedOrigin(headers: Headers): string[] {
  const host = headers.get("host")?.trim();
  return host ? [`https://${host}`] : [];
}

/** What Netlify's Context says about the site: the same fields on the Node and the Deno runtimes. */
export interface NetlifySiteFacts {
  site?: { url?: string; name?: string };
  deploy?: { id?: string };
}

/** The site's main URL, this deploy's permalink, and the host the request was routed by. */
export function netlifyOwnOrigins(request: Request, context: NetlifySiteFacts): string[] {
  const origins = routedOrigin(request.headers);
  const { site, deploy } = context;
  if (site?.url) origins.push(site.url);
  if (deploy?.id && site?.name) origins.push(`https://${deploy.id}--${site.name}.netlify.app`);
  return origins;
}

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
