import { createService } from "../../shared/service.ts";
import { netlifyLocation, netlifyOwnOrigins, type NetlifySiteFacts } from "../../shared/hosts/netlify.ts";

declare const Netlify: { env: { toObject(): Record<string, string> } };

const service = createService();

// No inline `config.path` on purpose: the route is declared in netlify.toml, so the
// Deno runtime answers /api/ice-servers only when a deployment opts in there.
// The edge has no TCP sockets: rate limits shared across instances go through Upstash's REST protocol.
export default (request: Request, context: { ip?: string; waitUntil?: (work: Promise<unknown>) => void } & NetlifySiteFacts) =>
  service.handle(request, Netlify.env.toObject(), {
    clientIp: context.ip,
    ownOrigins: netlifyOwnOrigins(request, context),
    location: netlifyLocation(context),
    // Keeps a spend guard's usage read alive past the answer.
    waitUntil: context.waitUntil && ((work) => context.waitUntil?.(work)),
  });
