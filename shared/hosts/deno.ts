/**
 * What `deno serve` and Deno Deploy know about a request, for deno/serve.ts. Deno Deploy
 * reaches a deployment only through its own hosts, so the routed host counts as our origin.
 */
import type { HandleOptions } from "../handle-options.ts";
import { routedOrigin } from "./routed-origin.ts";

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
