import { nodeFetch } from "../node/http-fetch.ts";
import { connectRedisStore, redisStore } from "../node/redis-store.ts";
import { createService } from "../shared/service.ts";
import { vercelClientIp, vercelLocation, vercelOwnOrigins } from "../shared/hosts/vercel.ts";
import { nodeHmac } from "../node/hmac.ts";

await connectRedisStore(process.env);
const service = createService({ hmac: nodeHmac });

// Vercel's Node runtime calls a default export with a `fetch` method for every HTTP method.
export default {
  fetch: (request: Request) =>
    service.handle(request, process.env, {
      clientIp: vercelClientIp(request.headers),
      ownOrigins: vercelOwnOrigins(request, process.env),
      location: vercelLocation(request.headers),
      redisStore,
      fetch: nodeFetch,
    }),
};
