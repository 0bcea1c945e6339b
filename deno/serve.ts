import { allowedHosts, localHosts, type LocalHosts } from "../server/local-hosts.ts";
import { denoHostFacts, onDenoDeploy } from "../shared/hosts/deno.ts";
import { createService } from "../shared/service.ts";
import { errorResponse } from "../shared/http/respond.ts";

const service = createService();

// Set once listening, on a machine of one's own: the names this server answers to (not on Deno Deploy).
let local: LocalHosts | undefined;

// `deno task serve` (deno.json) and Deno Deploy serve this default export with `deno serve`.
export default {
  fetch(request, info) {
    if (local) {
      // Before anything reads request.url, which Deno builds from the Host header.
      try {
        local.check(request.headers.get("host") ?? undefined);
      } catch (error) {
        return errorResponse(error);
      }
    }
    return service.handle(request, Deno.env.toObject(), denoHostFacts(request, info, local?.ownOrigins));
  },
  onListen(address) {
    const env = Deno.env.toObject();
    if (address.transport !== "tcp" || onDenoDeploy(env)) return;
    local = localHosts(address.hostname, address.port, allowedHosts(env));
    const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
    console.log(`Serving http://${host}:${address.port}/api/ice-servers`);
  },
} satisfies Deno.ServeDefaultExport;
