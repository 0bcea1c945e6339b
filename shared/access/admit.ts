import { authenticate, type AuthConfig, type Caller } from "./auth.ts";
import type { HandleOptions } from "../handle-options.ts";
import { addressKey } from "../rate-limit/client-key.ts";
import { ServiceError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { CORS_ALLOWED_HEADERS, corsHeaders, originAllowed, requestOrigin, type OriginPolicy } from "./origins.ts";
import { overLimitCallers } from "../rate-limit/over-limit.ts";
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

/** What admit() needs of the adapter's options, with the network and the logger resolved. */
export interface AccessOptions extends Pick<HandleOptions, "clientIp" | "local" | "ownOrigins" | "redisStore"> {
  fetch: Fetch;
  log: Pick<Logger, "warn">;
}

const memory = memoryStore();
const overLimit = overLimitCallers();
const upstashStores = new Map<string, RateLimitStore>();

function storeFor(choice: StoreChoice, fallback: StoreChoice | undefined, config: AccessConfig, options: AccessOptions): RateLimitStore {
  switch (choice.kind) {
    case "memory":
      return memory;
    case "redis":
      if (options.redisStore) return options.redisStore(choice.url);
      if (fallback) return storeFor(fallback, undefined, config, options);
      throw new ServiceError(
        "not_configured",
        "REDIS_URL needs a runtime with TCP sockets: on the edge set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN",
      );
    case "upstash": {
      const key = `${choice.url}\u0000${choice.token}\u0000${config.rateLimit.timeoutMs}`;
      let store = upstashStores.get(key);
      if (!store) {
        store = upstashStore(choice.url, choice.token, options.fetch, config.rateLimit.timeoutMs);
        upstashStores.set(key, store);
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
  if (!origin) {
    // Browsers send no Origin on no-cors GETs (<img>, <script>) or navigations, but Fetch
    // Metadata still says another site asked. No Sec-Fetch-Site: a non-browser client, or an
    // old browser; "none": the address bar; "same-origin": our own page.
    const site = request.headers.get("sec-fetch-site")?.trim().toLowerCase();
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
 * Authenticates the caller and counts the request against the caller's allowance:
 * the verified user when there is one, else the client's address. A failed
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
): Promise<{ caller: Caller; headers: Record<string, string> }> {
  const rule = config.rateLimit.rule;
  if (!rule) return { caller: await authenticate(request, config.auth), headers: {} };
  const address = options.clientIp ? `ip:${addressKey(options.clientIp)}` : undefined;
  // Noted under the rule it broke, so that a new RATE_LIMIT applies at once.
  const noteFor = (key: string) => `${rule.limit}/${rule.windowMs}:${key}`;
  const refuseIfNoted = (key: string) => {
    const waitMs = overLimit.refusedFor(noteFor(key));
    if (waitMs > 0) throw rateLimited(rule, waitMs);
  };
  const count = async (key: string) => {
    refuseIfNoted(key);
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
  if (address && config.auth.mode !== "none") refuseIfNoted(address);
  let caller: Caller;
  try {
    caller = await authenticate(request, config.auth);
  } catch (error) {
    // A wrong or missing token spends the address's own allowance, the one RATE_LIMIT sets:
    // past it the answer is 429, not 401, and says nothing of whether the guess was right.
    if (address && error instanceof ServiceError && error.code === "unauthorized") {
      Object.assign(error.headers, (await count(address)).headers);
    }
    throw error;
  }
  const key = caller.user !== undefined ? `user:${caller.user}` : address;
  // Without a user or an address there is nothing to count by; every adapter here passes the address.
  if (!key) return { caller, headers: {} };
  return { caller, headers: (await count(key)).headers };
}
