import type { AddressInfo } from "node:net";
import { existsSync } from "node:fs";
import { parseConfig } from "../shared/config.ts";
import { ICE_SERVERS_PATH } from "../shared/handle.ts";
import { createService } from "../shared/service.ts";
import { formatLogger, logFormatOf } from "../shared/log.ts";
import { LOCAL_RELAY, PROVIDERS } from "../shared/providers/index.ts";
import { nodeFetch } from "../node/http-fetch.ts";
import { connectRedisStore, redisStore } from "../node/redis-store.ts";
import { allowedHosts, localHosts } from "./local-hosts.ts";
import { createLocalServer } from "./local-server.ts";
import { findOnPath, INSTALL_COTURN, type LocalRelay, localRelayWanted, startLocalRelay } from "./local-relay.ts";
import { serveStatic } from "./static.ts";
import { nodeHmac } from "../node/hmac.ts";

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

/** Whether no provider is configured; false too when the configuration is broken (and says so). */
function noProvider(): boolean {
  try {
    return parseConfig(process.env).providers.length === 0;
  } catch (error) {
    log.error(`!!! Configuration error: ${(error as Error).message}`, { event: "config_error" });
    return false;
  }
}

function warnStunOnly(withoutCoturn: boolean): void {
  log.warn(
    [
      "",
      "!!! No TURN provider is configured: answering STUN-only (no relay), which works only between easy NATs.",
      `!!! Configure a TURN provider: ${PROVIDERS.map((provider) => provider.label).join(", ")} (see .env.example and the README).`,
      ...(withoutCoturn ? [`!!! Or install coturn (${INSTALL_COTURN}): npm start then runs one of its own on loopback.`] : []),
      "!!! Deployed functions answer 500 not_configured instead.",
      "",
    ].join("\n"),
    { event: "no_provider" },
  );
}

/** With no provider, npm start's own coturn where it can run one (server/local-relay.ts), else STUN-only. */
async function localRelay(): Promise<LocalRelay | undefined> {
  if (!noProvider()) return undefined;
  let wanted: boolean;
  try {
    wanted = localRelayWanted(process.env);
  } catch (error) {
    log.error(`!!! Configuration error: ${(error as Error).message}`, { event: "config_error" });
    wanted = false;
  }
  const turnserver = wanted ? findOnPath("turnserver", process.env.PATH) : undefined;
  if (!turnserver) {
    warnStunOnly(wanted);
    return undefined;
  }
  let relay: LocalRelay;
  try {
    relay = await startLocalRelay(turnserver, process.env.PATH);
  } catch (error) {
    log.error(`!!! Could not start a local coturn: ${(error as Error).message}`, { event: "local_relay_failed" });
    warnStunOnly(false);
    return undefined;
  }
  log.info(
    [
      "",
      `No TURN provider is configured: running a coturn of its own for development, on loopback only, answered as provider ${LOCAL_RELAY}:`,
      `  ${relay.address} over UDP and TCP; ${
        relay.tlsAddress
          ? `${relay.tlsAddress} over TLS, with a throw-away self-signed certificate browsers do not trust`
          : "no TLS (openssl, which makes its throw-away certificate, is not on the PATH or failed)"
      }.`,
      "  Its shared secret is random, made for this run and never shown; coturn stops when npm start stops.",
      "  Set TURN_LOCAL_RELAY=off for STUN-only instead; configure a TURN provider for real relays. Deployed functions never do this.",
      "",
    ].join("\n"),
    { event: "local_relay" },
  );
  // Nothing in npm start stops it: it ends when npm start's process ends, however that ends (server/local-relay.ts).
  relay.onExit((code, signal) =>
    log.error(`!!! The local coturn stopped (${code ?? signal}): restart npm start for relays`, { event: "local_relay_failed" }),
  );
  return relay;
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

const relay = await localRelay();
const service = createService({ hmac: nodeHmac });

const server = createLocalServer({
  hosts,
  logFormat: () => logFormatOf(process.env),
  // The self-test page at / (server/static.ts); every other path goes to the service.
  answer: async (request, req) =>
    (await serveStatic(request)) ??
    service.handle(request, process.env, {
      local: true,
      ownOrigins: hosts.ownOrigins,
      // The socket's own peer: a local server sits behind no proxy whose headers it could trust.
      clientIp: req.socket.remoteAddress,
      localRelay: relay?.config,
      redisStore,
      fetch: nodeFetch,
    }),
});

await connectRedisStore(process.env);
server.listen(port, host, () => {
  // Where the socket really listens, not what the variables asked for.
  const { address, family } = server.address() as AddressInfo;
  const origin = `http://${family === "IPv6" ? `[${address}]` : address}:${port}`;
  log.info(`Serving ${origin}${ICE_SERVERS_PATH}`, { event: "listening" });
  log.info(`Self-test page: ${origin}/`, { event: "listening" });
});
