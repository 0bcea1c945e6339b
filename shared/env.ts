import * as v from "valibot";
import { ServiceError } from "./errors.ts";

/** Environment as every platform can hand it over: names to optional strings. */
export type Env = Readonly<Record<string, string | undefined>>;

/** A variable's value, or undefined when unset or blank: a dashboard field left empty means unset. */
export function readVar(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** A comma list, trimmed, without empty items. */
export function readList(env: Env, name: string): string[] {
  return (readVar(env, name) ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/**
 * The floor for every secret that is text: 32 characters of random text (openssl rand -hex 16 is
 * 32 hex digits, 128 bits) cannot be guessed, online or offline. It cannot tell a random secret
 * from a 32-character password, so the docs say to generate them.
 */
export const MIN_SECRET_LENGTH = 32;

/**
 * A comma list of secrets. Commas separate, so no secret can hold one; and so that
 * a secret that does is not split silently into two weaker ones, an empty entry or
 * one with whitespace at either end (", " is how a split phrase looks) is refused.
 */
export function readSecretList(env: Env, name: string): string[] {
  const value = readVar(env, name);
  if (value === undefined) return [];
  return value.split(",").map((entry, index) => {
    const rule = "separate secrets with a comma alone, and note that a secret cannot contain a comma";
    if (entry === "") throw new ServiceError("invalid_config", `${name} entry ${index + 1} is empty: ${rule}`);
    if (entry.trim() !== entry)
      throw new ServiceError("invalid_config", `${name} entry ${index + 1} begins or ends with whitespace: ${rule}`);
    return entry;
  });
}

// Messages name the variable and the rule, never the value: some values are secrets.
export const integerBetween = (name: string, min: number, max: number) => {
  const message = `${name} must be a whole number from ${min} to ${max}`;
  return v.pipe(
    v.string(),
    v.trim(),
    v.regex(/^\d{1,9}$/, message),
    v.transform(Number),
    v.minValue(min, message),
    v.maxValue(max, message),
  );
};

const TRUE_WORDS = ["true", "1", "yes", "on"];
const FALSE_WORDS = ["false", "0", "no", "off"];
export const flag = (name: string) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.toLowerCase(),
    v.picklist([...TRUE_WORDS, ...FALSE_WORDS], `${name} must be true or false`),
    v.transform((word) => TRUE_WORDS.includes(word)),
  );

export const httpUrl = (name: string) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.url(`${name} must be an http(s) URL`),
    v.check((url) => /^https?:\/\//i.test(url), `${name} must be an http(s) URL`),
    v.transform((url) => url.replace(/\/+$/, "")),
  );

/** 127.0.0.0/8, ::1 and localhost: what a test or a local proxy listens on. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * An http(s) URL that carries a secret or an identity (an API token, the JWKS):
 * https:// only, since over plain http:// anyone on the path reads or changes it.
 * Plain http:// is allowed to a loopback host, where there is no path to be on.
 */
export const secureUrl = (name: string) =>
  v.pipe(
    httpUrl(name),
    v.check((url) => {
      if (!URL.canParse(url)) return false;
      const parsed = new URL(url);
      return parsed.protocol === "https:" || isLoopbackHost(parsed.hostname);
    }, `${name} must be an https:// URL: plain http:// is allowed only to a loopback host (127.0.0.1, ::1, localhost)`),
  );
