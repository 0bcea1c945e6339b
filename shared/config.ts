import * as v from "valibot";
import { configureAuth, readTokenList, type AuthConfig } from "./access/auth.ts";
import { flag, integerBetween, MIN_SECRET_LENGTH, readList, readVar, type Env } from "./env.ts";
import { ServiceError } from "./errors.ts";
import { LOG_FORMATS, type LogFormat } from "./log.ts";
import { configureOrigins, type OriginPolicy } from "./access/origins.ts";
import { PROVIDERS, type ConfiguredProvider } from "./providers/index.ts";
import { SERVICE_MAX_TTL } from "./providers/provider.ts";
import { configureRateLimit, type RateLimitConfig } from "./rate-limit/limiter.ts";
import { configureRoutes, type Routes } from "./routing/routes.ts";
import { configureSpend, type SpendConfig } from "./spend/config.ts";

export type { Env } from "./env.ts";

/** The largest TURN_TTL: a provider with a lower limit is asked for no more than its own. */
export const MAX_TTL = SERVICE_MAX_TTL;

export interface Config {
  /** The default and the largest TTL a caller may ask for, in seconds. */
  readonly ttl: number;
  readonly keepPort53: boolean;
  /** One attempt's budget: connecting, the headers and the body. */
  readonly upstreamTimeoutMs: number;
  /** The whole chain's budget, every provider and retry included. */
  readonly totalTimeoutMs: number;
  readonly urlSet: "full" | "compact";
  /** When every provider fails, answer STUN-only rather than an error. */
  readonly fallbackStun: boolean;
  /** In the order they are tried. */
  readonly providers: readonly ConfiguredProvider[];
  /** TURN_ROUTES: another order for callers in some places (shared/routing/). */
  readonly routes: Routes;
  readonly origins: OriginPolicy;
  readonly auth: AuthConfig;
  readonly rateLimit: RateLimitConfig;
  /** Signs revoke tokens; without it there are none, and nothing can be revoked. */
  readonly revokeSecret?: string;
  /** TURN_REST_API_KEYS: the keys servers call {basePath}/turn-rest with; none, and the route is not served. */
  readonly turnRestKeys: readonly string[];
  readonly logFormat: LogFormat;
  /** TURN_MONTHLY_LIMITS, TURN_USER_MONTHLY_LIMIT, TURN_USAGE_REFRESH_S: see shared/spend/. */
  readonly spend: SpendConfig;
}

const GeneralSchema = v.object({
  TURN_TTL: v.optional(integerBetween("TURN_TTL", 1, MAX_TTL), "86400"),
  TURN_KEEP_PORT_53: v.optional(flag("TURN_KEEP_PORT_53"), "false"),
  TURN_UPSTREAM_TIMEOUT_MS: v.optional(integerBetween("TURN_UPSTREAM_TIMEOUT_MS", 1, 120_000), "5000"),
  TURN_TOTAL_TIMEOUT_MS: v.optional(integerBetween("TURN_TOTAL_TIMEOUT_MS", 1, 300_000), "9000"),
  TURN_URL_SET: v.optional(v.picklist(["full", "compact"], "TURN_URL_SET must be full or compact"), "compact"),
  TURN_FALLBACK_STUN: v.optional(flag("TURN_FALLBACK_STUN"), "false"),
  LOG_FORMAT: v.optional(v.pipe(v.string(), v.toLowerCase(), v.picklist(LOG_FORMATS, "LOG_FORMAT must be text or json")), "text"),
});

const GENERAL_VARIABLES = Object.keys(GeneralSchema.entries);

function providersFrom(env: Env): ConfiguredProvider[] {
  const configured = PROVIDERS.map((provider) => ({ provider, config: provider.configure(env) }));
  const names = readList(env, "TURN_PROVIDERS");
  if (names.length === 0) return configured.filter((entry) => entry.config !== undefined);

  const known = PROVIDERS.map((provider) => provider.id);
  return names.map((name, index) => {
    const entry = configured.find((candidate) => candidate.provider.id === name);
    if (!entry) throw new ServiceError("invalid_config", `TURN_PROVIDERS names an unknown provider: use ${known.join(", ")}`);
    if (names.indexOf(name) !== index) throw new ServiceError("invalid_config", `TURN_PROVIDERS lists ${name} twice`);
    if (entry.config === undefined) {
      throw new ServiceError("not_configured", `TURN_PROVIDERS lists ${name}, but it is not configured: set ${entry.provider.enableHint}`);
    }
    return entry;
  });
}

function revokeSecretFrom(env: Env): string | undefined {
  const secret = readVar(env, "REVOKE_SIGNING_SECRET");
  // HMAC-SHA256 keys shorter than its output weaken it.
  if (secret !== undefined && secret.length < MIN_SECRET_LENGTH)
    throw new ServiceError("invalid_config", `REVOKE_SIGNING_SECRET must be at least ${MIN_SECRET_LENGTH} characters`);
  return secret;
}

/** Validates the environment. Throws a ServiceError that names a variable, never its value. */
export function parseConfig(env: Env): Config {
  const present: Record<string, string> = {};
  for (const name of GENERAL_VARIABLES) {
    const value = readVar(env, name);
    if (value !== undefined) present[name] = value;
  }
  const result = v.safeParse(GeneralSchema, present);
  if (!result.success) throw new ServiceError("invalid_config", result.issues[0].message);
  const general = result.output;
  const providers = providersFrom(env);
  const auth = configureAuth(env);
  return {
    ttl: general.TURN_TTL,
    keepPort53: general.TURN_KEEP_PORT_53,
    upstreamTimeoutMs: general.TURN_UPSTREAM_TIMEOUT_MS,
    totalTimeoutMs: general.TURN_TOTAL_TIMEOUT_MS,
    urlSet: general.TURN_URL_SET,
    fallbackStun: general.TURN_FALLBACK_STUN,
    providers,
    routes: configureRoutes(env),
    origins: configureOrigins(env),
    auth,
    rateLimit: configureRateLimit(env),
    revokeSecret: revokeSecretFrom(env),
    turnRestKeys: readTokenList(env, "TURN_REST_API_KEYS"),
    logFormat: general.LOG_FORMAT,
    spend: configureSpend(env, providers, auth),
  };
}

// Reading process.env on Node is a call into C++ per variable: ~12 µs for all of them,
// a tenth of a request's CPU. The same environment object is rechecked at most this often.
const RECHECK_MS = 1000;

type Outcome = { config: Config } | { error: unknown };
/** `read`: every variable the parse looked at, so the outcome is a function of their values alone. */
interface Loaded {
  env: Env;
  read: readonly string[];
  key: string;
  checkedAt: number;
  outcome: Outcome;
}

const keyOf = (env: Env, names: readonly string[]) => names.map((name) => env[name] ?? "").join("\u0000");

function load(env: Env, nowMs: number): Loaded {
  // Recorded, not listed: a variable a part reads is watched without being registered anywhere,
  // and one it did not read cannot have changed what it decided.
  const read = new Set<string>();
  const recording = new Proxy(env, {
    get(target, name) {
      if (typeof name === "string") read.add(name);
      return Reflect.get(target, name);
    },
  });
  let outcome: Outcome;
  try {
    outcome = { config: parseConfig(recording) };
  } catch (error) {
    outcome = { error };
  }
  const names = [...read];
  return { env, read: names, key: keyOf(env, names), checkedAt: nowMs, outcome };
}

/** parseConfig, done once per warm instance: see configLoader. */
export type ConfigLoader = (env: Env, nowMs?: number) => Config;

/**
 * A loader that keeps the last result (or error) of parseConfig until one of the variables it
 * read changes. A change to the same environment object is noticed within a second; another
 * object is compared at once. One per service instance (shared/service.ts).
 */
export function configLoader(): ConfigLoader {
  let cached: Loaded | undefined;
  return (env, nowMs = performance.now()) => {
    if (cached === undefined || cached.env !== env || nowMs - cached.checkedAt >= RECHECK_MS) {
      if (cached?.key !== keyOf(env, cached?.read ?? [])) cached = load(env, nowMs);
      else Object.assign(cached, { env, checkedAt: nowMs });
    }
    if ("error" in cached.outcome) throw cached.outcome.error;
    return cached.outcome.config;
  };
}
