/**
 * createHandler: the service as one web-standard `(Request) => Promise<Response>`, for an
 * app that mounts it inside its own routes (Next.js, SvelteKit, Astro, Remix, Nuxt, Hono…).
 * It only gathers the host facts an app can give and calls the same core as every adapter.
 */
import type { Env } from "../shared/config.ts";
import { ICE_SERVERS_PATH, type Logger } from "../shared/handle.ts";
import { createService } from "../shared/service.ts";
import type { CallerLocation } from "../shared/routing/location.ts";
import type { Fetch } from "../shared/upstream/upstream.ts";
import { redisStore } from "../node/redis-store.ts";
import { platformClientIp } from "./platforms.ts";
import { runtimeEnv } from "./runtime-env.ts";

export interface CreateHandlerOptions {
  /** Where the service is mounted: `{basePath}` and `{basePath}/revoke`. Default `/api/ice-servers`. */
  basePath?: string;
  /** The variables (see docs/configuration.md), or a function read on every request. Default: the runtime's environment. */
  env?: Env | (() => Env);
  /**
   * The client's address, for the rate limit, where the platform does not give it. On Vercel,
   * Netlify and Cloudflare the platform's own header is read (see platformClientIp) and this is not
   * asked. Elsewhere only a value a client cannot forge will do (a proxy of yours that sets it);
   * without one, every caller that is not a verified user shares one allowance: RATE_LIMIT for
   * the whole app.
   */
  clientIp?: (request: Request) => string | undefined;
  /**
   * Origins whose pages count as this app's own (same-origin), besides ALLOWED_ORIGINS: a list,
   * or a function of the request (`vercelOwnOrigins`). Default none: the request's own URL and
   * Host are not trusted, since anything the caller sends could name them.
   */
  ownOrigins?: readonly string[] | ((request: Request) => readonly string[]);
  /**
   * Where the caller is, for TURN_ROUTES: `{ country, continent }` from what the platform sets
   * (`vercelLocation`). None by default: a geo header is whatever the caller sent unless the
   * platform overwrites it. Without it, TURN_PROVIDERS' order applies.
   */
  location?: (request: Request) => CallerLocation | undefined;
  log?: Logger;
  /** For the calls to the providers, the key set and Upstash. Default: the global fetch. */
  fetch?: Fetch;
}

/**
 * What the app's framework knows about this one request. `clientIp`: the address of the peer its
 * server accepted the connection from, read from the socket so that no header forges it
 * (SvelteKit's `getClientAddress()` on adapter-node, Hono's `getConnInfo(c).remote.address` on
 * @hono/node-server; not Astro's `clientAddress`, which takes X-Forwarded-For). The platform's own
 * header wins over it on Vercel, Netlify and Cloudflare; it wins over the `clientIp` option.
 */
export interface RequestFacts {
  clientIp?: string;
}

/**
 * `facts` also takes any object, so that the handler can be handed as it is to a server that
 * passes something of its own second (Next.js its route context, Deno.serve its connection info,
 * Bun its server): only a string `clientIp` in it is read.
 */
export type IceServersHandler = (request: Request, facts?: RequestFacts | object) => Promise<Response>;

const factsClientIp = (facts: RequestFacts | object | undefined): string | undefined => {
  const clientIp = (facts as RequestFacts | undefined)?.clientIp;
  return typeof clientIp === "string" && clientIp !== "" ? clientIp : undefined;
};

// A mount point is a plain path: one leading slash, no trailing one, nothing a URL would rewrite.
const BASE_PATH = /^(?:\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$/;

function checkBasePath(basePath: string): string {
  if (!BASE_PATH.test(basePath) || basePath.split("/").some((segment) => segment === "." || segment === "..")) {
    throw new TypeError("createHandler: basePath must be a path such as /api/ice-servers, starting with / and not ending with one");
  }
  return basePath;
}

export function createHandler(options: CreateHandlerOptions = {}): IceServersHandler {
  const basePath = checkBasePath(options.basePath ?? ICE_SERVERS_PATH);
  const { env = runtimeEnv, clientIp, ownOrigins, location, log, fetch } = options;
  const readEnv = typeof env === "function" ? env : () => env;
  // Each handler is an instance of its own: its configuration, rate-limit counts and caches.
  const service = createService();
  return (request, facts) =>
    service.handle(request, readEnv(), {
      basePath,
      // The app's framework made the URL; its host is never what origins or routing trust here.
      urlFromRequestTarget: false,
      // The platform's own header first: there the socket's peer is the platform's proxy.
      clientIp: platformClientIp(request) ?? factsClientIp(facts) ?? clientIp?.(request),
      ownOrigins: typeof ownOrigins === "function" ? ownOrigins(request) : ownOrigins,
      location: location?.(request),
      // Loaded only when REDIS_URL is set; it needs a runtime with TCP sockets (Node, Deno).
      redisStore,
      log,
      fetch,
    });
}
