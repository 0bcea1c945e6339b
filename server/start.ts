import type { AddressInfo } from "node:net";
import { existsSync } from "node:fs";
import { parseConfig } from "../shared/config.ts";
import { handle, ICE_SERVERS_PATH } from "../shared/handle.ts";
import { formatLogger, logFormatOf } from "../shared/log.ts";
import { PROVIDERS } from "../shared/providers/index.ts";
import { nodeFetch } from "../node/http-fetch.ts";
import { connectRedisStore, redisStore } from "../node/redis-store.ts";
import { allowedHosts, localHosts } from "./local-hosts.ts";
import { createLocalServer } from "./local-server.ts";
import { serveStatic } from "./static.ts";

if (existsSync(".env")) process.loadEnvFile(".env");

// Start-up lines in LOG_FORMAT too, so that a JSON log holds nothing but JSON.
const log = formatLogger(console, logFormatOf(process.env));

// Empty counts as unset, as for every other variable: an empty PORT or HOST in .env must not
// mean a random port or every interface.
const port = Number(process.env.PORT || 8888);
const host = process.env.HOST || "127.0.0.1";
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  log.error("!!! PORT must be a port number from 1 to 65535", { event: "config_error" });
  process.exit(1);
}

function warnAboutConfig(): void {
  try {
    if (parseConfig(process.env).providers.length === 0) {
      log.warn(
        [
          "",
          "!!! No TURN provider is configured: answering STUN-only (no relay), which works only between easy NATs.",
          `!!! Configure a TURN provider: ${PROVIDERS.map((provider) => provider.label).join(", ")} (see .env.example and the README).`,
          "!!! Deployed functions answer 500 not_configured instead.",
          "",
        ].join("\n"),
        { event: "no_provider" },
      );
    }
  } catch (error) {
    log.error(`!!! Configuration error: ${(error as Error).message}`, { event: "config_error" });
  }
}

function extraHosts(): string[] {
  try {
    return allowedHosts(process.env);
  } catch (error) {
    // Serving fewer names is the safe side: only the local ones, until the variable is fixed.
    log.error(`!!! Configuration error: ${(error as Error).message}`, { event: "config_error" });
    return [];
  }
}

const hosts = localHosts(host, port, extraHosts());

const server = createLocalServer({
  hosts,
  logFormat: () => logFormatOf(process.env),
  // The self-test page at / (server/static.ts); every other path goes to the service.
  answer: async (request, req) =>
    (await serveStatic(request)) ??
    handle(request, process.env, {
      local: true,
      ownOrigins: hosts.ownOrigins,
      // The socket's own peer: a local server sits behind no proxy whose headers it could trust.
      clientIp: req.socket.remoteAddress,
      redisStore,
      fetch: nodeFetch,
    }),
});

warnAboutConfig();
await connectRedisStore(process.env);
server.listen(port, host, () => {
  // Where the socket really listens, not what the variables asked for.
  const { address, family } = server.address() as AddressInfo;
  const origin = `http://${family === "IPv6" ? `[${address}]` : address}:${port}`;
  log.info(`Serving ${origin}${ICE_SERVERS_PATH}`, { event: "listening" });
  log.info(`Self-test page: ${origin}/`, { event: "listening" });
});
