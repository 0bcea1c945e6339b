import { authenticate, type AuthConfig, type Caller, type KeySets } from "./auth.ts";
import type { HandleOptions } from "../handle-options.ts";
import { addressKey } from "../rate-limit/client-key.ts";
import { ServiceError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { CORS_ALLOWED_HEADERS, corsHeaders, originAllowed, requestOrigin, type OriginPolicy } from "./origins.ts";
import { overLimitCallers, type OverLimitCallers } from "../rate-limit/over-limit.ts";
import {
  checkRateLimit,
  memoryStore,
  rateLimited,
  upstashStore,
  type RateLimitConfig,
  type RateLimitStore,
  type StoreChoice,
} from "../rate-limit/limiter.ts";
import { noContent } from "../http/respond.ts";
import type { Fetch } from "../upstream/upstream.ts";

/** The parts of the configuration that decide who may ask, and how often. */
export interface AccessConfig {
  readonly origins: OriginPolicy;
  readonly auth: AuthConfig;
  readonly rateLimit: RateLimitConfig;
}

/**
 * What a service instance keeps for access between requests: the memory store, the callers seen
 * over their allowance, a store per Upstash database, the JWKS key sets, and whether the shared
 * allowance was reported. Created once per instance (shared/service.ts).
 */
export interface AccessState {
  readonly memory: RateLimitStore;
  readonly overLimit: OverLimitCallers;
  /** By URL, token and timeout. */
  readonly upstashStores: Map<string, RateLimitStore>;
  readonly keySets: KeySets;
  sharedReported: boolean;
}

export function accessState(): AccessState {
  return { memory: memoryStore(), overLimit: overLimitCallers(), upstashStores: new Map(), keySets: new Map(), sharedReported: false };
}

/** What admit() needs of the adapter's options, with the network and the logger resolved, and the instance's state. */
export interface AccessOptions extends Pick<HandleOptions, "clientIp" | "local" | "ownOrigins" | "redisStore"> {
  fetch: Fetch;
  log: Pick<Logger, "warn">;
  state: AccessState;
}

/**
 * The key of every caller whose address the host cannot know: together they get RATE_LIMIT once,
 * the whole app's allowance. Not counting them would make the endpoint a free faucet wherever the
 * app forgot (or could not give) the client's address.
 */
export const SHARED_KEY = "shared";

/** Says once per instance that callers are counted together, and how to count them one by one. */
function reportShared(options: AccessOptions): void {
  const { state, log } = options;
  if (state.sharedReported) return;
  state.sharedReported = true;
  log.warn(
    "no client address is known for this request: callers without a verified user share one RATE_LIMIT allowance for the whole app (failed authentication included); give the host's client address (createHandler's clientIp) to count each caller on its own (logged once)",
    { event: "rate_limit_shared" },
  );
}

function storeFor(choice: StoreChoice, fallback: StoreChoice | undefined, config: AccessConfig, options: AccessOptions): RateLimitStore {
  switch (choice.kind) {
    case "memory":
      return options.state.memory;
    case "redis":
      if (options.redisStore) return options.redisStore(choice.url);
      if (fallback) return storeFor(fallback, undefined, config, options);
      throw new ServiceError(
        "not_configured",
        "REDIS_URL needs a runtime with TCP sockets: on the edge set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN",
      );
    case "upstash": {
      const key = `${choice.url}\u0000${choice.token}\u0000${config.rateLimit.timeoutMs}`;
      const stores = options.state.upstashStores;
      let store = stores.get(key);
      if (!store) {
        store = upstashStore(choice.url, choice.token, options.fetch, config.rateLimit.timeoutMs);
        stores.set(key, store);
      }
      return store;
    }
  }
}

/** The configured store, where usage figures can be shared too; undefined where none can be reached from here. */
export function sharedStoreFor(config: AccessConfig, options: AccessOptions): RateLimitStore | undefined {
  try {
    return storeFor(config.rateLimit.store, config.rateLimit.fallbackStore, config, options);
  } catch {
    return undefined;
  }
}

/**
 * Checks the Origin against the allowlist. Returns the CORS headers every answer
 * to this request carries, or throws 403 before anything else is done.
 */
export function checkOrigin(
  request: Request,
  config: AccessConfig,
  facts: Pick<HandleOptions, "ownOrigins" | "local">,
): Record<string, string> {
  const origin = requestOrigin(request);
  // The browser's own word that the page calling is on this very origin: a script cannot set a
  // Sec- header, and anything else could forge Origin just as well (see docs/security.md).
  const site = request.headers.get("sec-fetch-site")?.trim().toLowerCase();
  if (site === "same-origin") return {};
  if (!origin) {
    // Browsers send no Origin on no-cors GETs (<img>, <script>) or navigations, but Fetch
    // Metadata still says another site asked. No Sec-Fetch-Site: a non-browser client, or an
    // old browser; "none": the address bar.
    if (site === "cross-site" || site === "same-site") {
      throw new ServiceError(
        "origin_not_allowed",
        "a request from another site must come from an origin in ALLOWED_ORIGINS, with fetch() in cors mode",
      );
    }
    return {};
  }
  if (!originAllowed(origin, config.origins, facts.ownOrigins ?? [], facts.local ?? false)) {
    throw new ServiceError("origin_not_allowed", "this origin may not call this endpoint: add it to ALLOWED_ORIGINS");
  }
  return corsHeaders(origin);
}

/** The Allow header for a route: its methods and OPTIONS. */
export const allowed = (methods: readonly string[]) => [...methods, "OPTIONS"].join(", ");

/** The answer to a CORS preflight from an allowed origin (or to a bare OPTIONS). */
export function preflight(methods: readonly string[]): Response {
  return noContent({
    allow: allowed(methods),
    "access-control-allow-methods": allowed(methods),
    "access-control-allow-headers": CORS_ALLOWED_HEADERS,
    "access-control-max-age": "600",
  });
}

/**
 * Authenticates the caller (by AUTH_MODE, or by `authenticator` for a route with credentials
 * of its own) and counts the request against the caller's allowance: its own (a TURN REST API
 * key's) or the verified user's when there is one, else the client's address, else the allowance
 * all callers without a known address share (SHARED_KEY). A failed
 * authentication is counted against the address too, so guessing tokens ends in 429.
 * A caller this instance saw go over its allowance is refused until the Retry-After it
 * was given without asking the store again (an address before its token is even read):
 * a flood costs no store round trips, and the answer is the one the store would give.
 * Returns who the caller is and the rate-limit headers for the answer.
 */
export async function admit(
  request: Request,
  config: AccessConfig,
  options: AccessOptions,
  authenticator?: () => Promise<Caller>,
): Promise<{ caller: Caller; headers: Record<string, string> }> {
  // A route with its own authenticator (the TURN REST API's keys) always needs a credential.
  const authenticateCaller = authenticator ?? (() => authenticate(request, config.auth, options.state.keySets));
  const rule = config.rateLimit.rule;
  if (!rule) return { caller: await authenticateCaller(), headers: {} };
  const address = options.clientIp ? `ip:${addressKey(options.clientIp)}` : SHARED_KEY;
  // Noted under the rule it broke, so that a new RATE_LIMIT applies at once.
  const noteFor = (key: string) => `${rule.limit}/${rule.windowMs}:${key}`;
  const { overLimit } = options.state;
  const refuseIfNoted = (key: string) => {
    const waitMs = overLimit.refusedFor(noteFor(key));
    if (waitMs > 0) throw rateLimited(rule, waitMs);
  };
  const count = async (key: string) => {
    refuseIfNoted(key);
    if (key === SHARED_KEY) reportShared(options);
    const store = storeFor(config.rateLimit.store, config.rateLimit.fallbackStore, config, options);
    try {
      return await checkRateLimit(key, { ...config.rateLimit, rule }, store, options.log);
    } catch (error) {
      if (error instanceof ServiceError && error.code === "rate_limited") {
        overLimit.note(noteFor(key), Number(error.headers["retry-after"]) * 1000);
      }
      throw error;
    }
  };
  // Before the token is read, so that guessing costs no verification either.
  if (authenticator || config.auth.mode !== "none") refuseIfNoted(address);
  let caller: Caller;
  try {
    caller = await authenticateCaller();
  } catch (error) {
    // A wrong or missing token spends the address's own allowance, the one RATE_LIMIT sets:
    // past it the answer is 429, not 401, and says nothing of whether the guess was right.
    if (error instanceof ServiceError && error.code === "unauthorized") {
      Object.assign(error.headers, (await count(address)).headers);
    }
    throw error;
  }
  const key = caller.allowance ?? (caller.user !== undefined ? `user:${caller.user}` : address);
  return { caller, headers: (await count(key)).headers };
}
