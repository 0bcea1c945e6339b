import type { Config, Context } from "@netlify/functions";
import { nodeFetch } from "../node/http-fetch.ts";
import { connectRedisStore, redisStore } from "../node/redis-store.ts";
import { createService } from "../shared/service.ts";
import { netlifyLocation, netlifyOwnOrigins } from "../shared/hosts/netlify.ts";
import { nodeHmac } from "../node/hmac.ts";

await connectRedisStore(process.env);
const service = createService({ hmac: nodeHmac });

export default (request: Request, context: Context) =>
  service.handle(request, process.env, {
    clientIp: context.ip,
    ownOrigins: netlifyOwnOrigins(request, context),
    location: netlifyLocation(context),
    // Keeps a spend guard's usage read alive past the answer; absent where a caller of the function gives no context of Netlify's.
    waitUntil: context.waitUntil && ((work) => context.waitUntil(work)),
    redisStore,
    fetch: nodeFetch,
  });

export const config: Config = {
  path: ["/api/ice-servers", "/api/ice-servers/revoke", "/api/ice-servers/turn-rest"],
  // Netlify's own limiter, in front of the function: a backstop that holds even
  // before our store is configured. RATE_LIMIT sets the finer, per-user limit.
  rateLimit: { windowLimit: 120, windowSize: 60, aggregateBy: ["ip", "domain"] },
};
