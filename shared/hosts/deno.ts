/**
 * What `deno serve` and Deno Deploy know about a request, for deno/serve.ts. Deno Deploy reaches
 * a deployment only through its own hosts, so there the routed host counts as our origin; on a
 * machine of one's own nothing routes by Host, so `deno task serve` answers only the names it
 * serves, as `npm start` does (server/local-hosts.ts).
 */
import type { Env } from "../env.ts";
import type { HandleOptions } from "../handle-options.ts";
import { routedOrigin } from "./routed-origin.ts";

/** What `deno serve` hands a handler beside the request: the peer of the connection. */
export interface DenoConnectionInfo {
  remoteAddr: { transport: string; hostname?: string };
}

/** Deno Deploy sets DENO_DEPLOYMENT_ID in every deployment; `deno serve` on a machine does not. */
export const onDenoDeploy = (env: Env): boolean => Boolean(env.DENO_DEPLOYMENT_ID?.trim());

/**
 * The connection's peer, which Deno Deploy reports as the client's address (no header is read),
 * and the origins of our own pages: on Deno Deploy the routed host, elsewhere `localOrigins`.
 */
export function denoHostFacts(request: Request, info: DenoConnectionInfo, localOrigins?: readonly string[]): HandleOptions {
  const { remoteAddr } = info;
  return {
    clientIp: remoteAddr.transport === "tcp" ? remoteAddr.hostname : undefined,
    ownOrigins: localOrigins ?? routedOrigin(request.headers),
  };
}
