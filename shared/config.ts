import * as v from "valibot";
import { ServiceError } from "./errors.ts";

/** Environment as every platform can hand it over: names to optional strings. */
export type Env = Readonly<Record<string, string | undefined>>;

export const CLOUDFLARE_DEFAULT_API_BASE = "https://rtc.live.cloudflare.com/v1";
/** Cloudflare rejects a credential TTL above 48 hours. */
export const MAX_TTL = 172_800;

export interface CloudflareConfig {
  readonly keyId: string;
  readonly apiToken: string;
  readonly apiBase: string;
}

export interface Config {
  /** The default and the largest TTL a caller may ask for, in seconds. */
  readonly ttl: number;
  readonly keepPort53: boolean;
  readonly upstreamTimeoutMs: number;
  readonly cloudflare?: CloudflareConfig;
}

const VARIABLES = [
  "CLOUDFLARE_TURN_KEY_ID",
  "CLOUDFLARE_TURN_KEY_API_TOKEN",
  "CLOUDFLARE_TURN_API_BASE",
  "TURN_TTL",
  "TURN_KEEP_PORT_53",
  "TURN_UPSTREAM_TIMEOUT_MS",
] as const;

// Messages name the variable and the rule, never the value: some values are secrets.
const integerBetween = (name: string, min: number, max: number) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.regex(/^\d{1,9}$/, `${name} must be a whole number from ${min} to ${max}`),
    v.transform(Number),
    v.minValue(min, `${name} must be a whole number from ${min} to ${max}`),
    v.maxValue(max, `${name} must be a whole number from ${min} to ${max}`),
  );

const TRUE_WORDS = ["true", "1", "yes", "on"];
const FALSE_WORDS = ["false", "0", "no", "off"];
const flag = (name: string) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.toLowerCase(),
    v.picklist([...TRUE_WORDS, ...FALSE_WORDS], `${name} must be true or false`),
    v.transform((word) => TRUE_WORDS.includes(word)),
  );

const httpUrl = (name: string) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.url(`${name} must be an http(s) URL`),
    v.check((url) => /^https?:\/\//i.test(url), `${name} must be an http(s) URL`),
    v.transform((url) => url.replace(/\/+$/, "")),
  );

const EnvSchema = v.object({
  CLOUDFLARE_TURN_KEY_ID: v.optional(v.pipe(v.string(), v.trim())),
  CLOUDFLARE_TURN_KEY_API_TOKEN: v.optional(v.pipe(v.string(), v.trim())),
  CLOUDFLARE_TURN_API_BASE: v.optional(httpUrl("CLOUDFLARE_TURN_API_BASE"), CLOUDFLARE_DEFAULT_API_BASE),
  TURN_TTL: v.optional(integerBetween("TURN_TTL", 1, MAX_TTL), "86400"),
  TURN_KEEP_PORT_53: v.optional(flag("TURN_KEEP_PORT_53"), "false"),
  TURN_UPSTREAM_TIMEOUT_MS: v.optional(integerBetween("TURN_UPSTREAM_TIMEOUT_MS", 1, 120_000), "5000"),
});

type ParsedEnv = v.InferOutput<typeof EnvSchema>;

function cloudflareFrom(env: ParsedEnv): CloudflareConfig | undefined {
  const keyId = env.CLOUDFLARE_TURN_KEY_ID;
  const apiToken = env.CLOUDFLARE_TURN_KEY_API_TOKEN;
  if (!keyId && !apiToken) return undefined;
  if (!keyId) {
    throw new ServiceError(
      "not_configured",
      "CLOUDFLARE_TURN_KEY_ID is not set, but CLOUDFLARE_TURN_KEY_API_TOKEN is: set both or neither",
    );
  }
  if (!apiToken) {
    throw new ServiceError(
      "not_configured",
      "CLOUDFLARE_TURN_KEY_API_TOKEN is not set, but CLOUDFLARE_TURN_KEY_ID is: set both or neither",
    );
  }
  return { keyId, apiToken, apiBase: env.CLOUDFLARE_TURN_API_BASE };
}

/** Validates the environment. Throws a ServiceError that names a variable, never its value. */
export function parseConfig(env: Env): Config {
  // Platforms often hand over a variable set to "" from a dashboard field left empty: that means unset.
  const present: Record<string, string> = {};
  for (const name of VARIABLES) {
    const value = env[name];
    if (value !== undefined && value.trim() !== "") present[name] = value;
  }
  const result = v.safeParse(EnvSchema, present);
  if (!result.success) {
    throw new ServiceError("invalid_config", result.issues[0].message);
  }
  const parsed = result.output;
  return {
    ttl: parsed.TURN_TTL,
    keepPort53: parsed.TURN_KEEP_PORT_53,
    upstreamTimeoutMs: parsed.TURN_UPSTREAM_TIMEOUT_MS,
    cloudflare: cloudflareFrom(parsed),
  };
}

let cached: { key: string; outcome: { config: Config } | { error: unknown } } | undefined;

/**
 * parseConfig, done once per warm instance: the result (or the error) is kept
 * until one of the variables it reads changes.
 */
export function loadConfig(env: Env): Config {
  const key = VARIABLES.map((name) => env[name] ?? "").join("\u0000");
  if (cached?.key !== key) {
    try {
      cached = { key, outcome: { config: parseConfig(env) } };
    } catch (error) {
      cached = { key, outcome: { error } };
    }
  }
  if ("error" in cached.outcome) throw cached.outcome.error;
  return cached.outcome.config;
}
