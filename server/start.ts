import { existsSync } from "node:fs";
import { createServer } from "node:http";
import { parseConfig } from "../shared/config.ts";
import { handle, ICE_SERVERS_PATH } from "../shared/handle.ts";
import { nodeFetch } from "../node/http-fetch.ts";
import { connectRedisStore, redisStore } from "../node/redis-store.ts";
import { sendWebResponse, toWebRequest } from "./node-http.ts";
import { serveStatic } from "./static.ts";

if (existsSync(".env")) process.loadEnvFile(".env");

const port = Number(process.env.PORT ?? 8888);
const host = process.env.HOST ?? "127.0.0.1";

function warnAboutConfig(): void {
  try {
    if (parseConfig(process.env).providers.length === 0) {
      console.warn(
        [
          "",
          "!!! No TURN provider is configured: answering STUN-only (no relay), which works only between easy NATs.",
          "!!! Configure Cloudflare, Metered or a shared-secret TURN server (see .env.example and the README).",
          "!!! Deployed functions answer 500 not_configured instead.",
          "",
        ].join("\n"),
      );
    }
  } catch (error) {
    console.error(`!!! Configuration error: ${(error as Error).message}`);
  }
}

const server = createServer(async (req, res) => {
  const request = toWebRequest(req, `http://${req.headers.host ?? `${host}:${port}`}`);
  // The self-test page at / (server/static.ts); every other path goes to the service.
  const response = (await serveStatic(request)) ?? await handle(request, process.env, {
    local: true,
    // The socket's own peer: a local server sits behind no proxy whose headers it could trust.
    clientIp: req.socket.remoteAddress,
    redisStore,
    fetch: nodeFetch,
  });
  await sendWebResponse(res, response).catch(() => res.destroy());
});

warnAboutConfig();
await connectRedisStore(process.env);
server.listen(port, host, () => {
  console.log(`Serving http://${host}:${port}${ICE_SERVERS_PATH}`);
  console.log(`Self-test page: http://${host}:${port}/`);
});
