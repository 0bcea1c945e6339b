import type { Logger } from "./log.ts";
import type { SharedSecretConfig } from "./providers/shared-secret.ts";
import type { RateLimitStore } from "./rate-limit/limiter.ts";
import type { CallerLocation } from "./routing/location.ts";
import type { Fetch } from "./upstream/upstream.ts";

/**
 * Everything a host's adapter may hand handle(), in one place: what the host knows and the core
 * cannot (the client address, where the deployment is served, the Redis store on Node), where
 * the service is mounted, and the injectable clock, network, logger and jitter.
 */
export interface HandleOptions {
  /** The client's address as the platform reports it; never read from a header the platform does not set. */
  clientIp?: string;
  /**
   * Where the caller is, for TURN_ROUTES: only what the platform itself sets (shared/hosts/), never
   * a header a client could send. Without it, TURN_PROVIDERS' order applies.
   */
  location?: CallerLocation;
  /** npm start: localhost pages may call, and no provider means STUN-only. */
  local?: boolean;
  /**
   * npm start's own coturn on loopback (server/local-relay.ts), served when no provider is
   * configured: shared-secret credentials, answered as `local-relay`. Only with `local`.
   */
  localRelay?: SharedSecretConfig;
  /**
   * The origins this deployment is served at, from what the caller cannot choose (the
   * platform's configured URLs and routing, or npm start's listening address): pages on
   * them are same-origin. Without any, only ALLOWED_ORIGINS (and npm start's localhost) may call.
   */
  ownOrigins?: readonly string[];
  /** Redis over TCP, where the runtime has sockets (Node). */
  redisStore?: (url: string) => RateLimitStore;
  /** Where the service is mounted: `{basePath}` issues, `{basePath}/revoke` revokes. Default ICE_SERVERS_PATH. */
  basePath?: string;
  /**
   * Whether the request URL was resolved from the request-target against Host, as the hosts'
   * launchers and npm start resolve it (the default): a URL on another host than Host is then
   * refused. A framework builds the URL its own way (Next.js from its own hostname, whatever
   * Host says); createHandler never trusts that URL's host, so it turns the comparison off.
   */
  urlFromRequestTarget?: boolean;
  /** Defaults to the global fetch; the Node adapters pass a cheaper one (node/http-fetch.ts). */
  fetch?: Fetch;
  /** Milliseconds since the epoch; injectable so expiry is testable. */
  now?: () => number;
  /** Where log lines go (default console), in the format LOG_FORMAT names. */
  log?: Logger;
  /** Jitter source for retries. */
  random?: () => number;
  /**
   * Keeps work a request began alive after its answer, where the host would otherwise cancel it
   * (a Worker's ctx.waitUntil): a usage read that runs behind the answer (shared/spend/).
   */
  waitUntil?: (work: Promise<unknown>) => void;
}
