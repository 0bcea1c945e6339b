import type { JWTVerifyGetKey } from "jose";
import * as v from "valibot";
import { httpUrl, readList, readVar, type Env } from "./env.ts";
import { ServiceError } from "./errors.ts";
import { isKeySetFailure, KeySetBackoff, remoteKeySet } from "./jwks.ts";

export type AuthConfig =
  | { mode: "none" }
  | { mode: "bearer"; tokens: readonly string[] }
  | { mode: "jwt"; key: { secret: Uint8Array } | { jwksUrl: string }; issuer: string; audience: string };

/** Who the caller is, once verified: `sub` of a JWT. Bearer tokens name no one. */
export interface Caller {
  user?: string;
}

// Allowance for clocks that disagree a little between the issuer and this function.
export const JWT_CLOCK_SKEW_SECONDS = 30;
const REALM = 'Bearer realm="turn-credentials"';
const encoder = new TextEncoder();

const JwksUrl = httpUrl("AUTH_JWKS_URL");

// jose is loaded only where JWTs are used, so that every other instance starts without it.
let jose: Promise<typeof import("jose")> | undefined;
const loadJose = () => (jose ??= import("jose"));

// One key set per URL for the life of the instance, so its cache, cooldown and back-off work.
const keySets = new Map<string, JWTVerifyGetKey>();

async function keySetFor(url: string): Promise<JWTVerifyGetKey> {
  let keySet = keySets.get(url);
  if (!keySet) {
    keySet = remoteKeySet(await loadJose(), url);
    keySets.set(url, keySet);
  }
  return keySet;
}

function required(env: Env, name: string): string {
  const value = readVar(env, name);
  if (!value) throw new ServiceError("not_configured", `AUTH_MODE=jwt needs ${name}`);
  return value;
}

export function configureAuth(env: Env): AuthConfig {
  const mode = (readVar(env, "AUTH_MODE") ?? "none").toLowerCase();
  if (mode === "none") return { mode };
  if (mode === "bearer") {
    const tokens = readList(env, "AUTH_BEARER_TOKENS");
    if (tokens.length === 0) throw new ServiceError("not_configured", "AUTH_MODE=bearer needs AUTH_BEARER_TOKENS");
    return { mode, tokens };
  }
  if (mode !== "jwt") throw new ServiceError("invalid_config", "AUTH_MODE must be none, bearer or jwt");
  const issuer = required(env, "AUTH_JWT_ISSUER");
  const audience = required(env, "AUTH_JWT_AUDIENCE");
  const secret = readVar(env, "AUTH_JWT_SECRET");
  const jwksUrl = readVar(env, "AUTH_JWKS_URL");
  if (secret && jwksUrl) throw new ServiceError("invalid_config", "set AUTH_JWT_SECRET or AUTH_JWKS_URL, not both");
  if (secret) return { mode, key: { secret: encoder.encode(secret) }, issuer, audience };
  if (!jwksUrl) throw new ServiceError("not_configured", "AUTH_MODE=jwt needs AUTH_JWKS_URL or AUTH_JWT_SECRET");
  const parsed = v.safeParse(JwksUrl, jwksUrl);
  if (!parsed.success) throw new ServiceError("invalid_config", parsed.issues[0].message);
  return { mode, key: { jwksUrl: parsed.output }, issuer, audience };
}

function unauthorized(message: string, invalid: boolean): ServiceError {
  return new ServiceError("unauthorized", message, {
    "www-authenticate": invalid ? `${REALM}, error="invalid_token"` : REALM,
  });
}

function bearerToken(request: Request): string | undefined {
  const header = request.headers.get("authorization");
  if (!header) return undefined;
  const match = /^Bearer +([\x21-\x7e]+)\s*$/i.exec(header);
  if (!match) throw unauthorized("the Authorization header must be: Bearer <token>", true);
  return match[1];
}

async function digest(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
}

/**
 * Compares digests rather than the tokens, so neither the time taken nor an early
 * exit says how much of a guess was right, or how long the real token is.
 */
async function matchesAny(token: string, tokens: readonly string[]): Promise<boolean> {
  const presented = await digest(token);
  let matched = 0;
  for (const candidate of tokens) {
    const expected = await digest(candidate);
    let difference = 0;
    for (let i = 0; i < expected.length; i += 1) difference |= expected[i] ^ presented[i];
    matched |= difference === 0 ? 1 : 0;
  }
  return matched === 1;
}

/** Verifies the caller, or throws 401 unauthorized (503 auth_unavailable when the key set cannot be fetched). */
export async function authenticate(request: Request, config: AuthConfig): Promise<Caller> {
  if (config.mode === "none") return {};
  const token = bearerToken(request);
  if (!token) throw unauthorized("this endpoint needs an Authorization: Bearer token", false);
  if (config.mode === "bearer") {
    if (!(await matchesAny(token, config.tokens))) throw unauthorized("the bearer token is not valid", true);
    return {};
  }
  const jose = await loadJose();
  const { jwtVerify, errors: joseErrors } = jose;
  try {
    const options = {
      issuer: config.issuer,
      audience: config.audience,
      clockTolerance: JWT_CLOCK_SKEW_SECONDS,
      requiredClaims: ["sub", "exp"],
    };
    const { payload } =
      "secret" in config.key
        ? await jwtVerify(token, config.key.secret, { ...options, algorithms: ["HS256"] })
        : await jwtVerify(token, await keySetFor(config.key.jwksUrl), options);
    return { user: payload.sub };
  } catch (error) {
    // A failed key-set fetch is ours to fix, not the caller's.
    if (error instanceof KeySetBackoff) {
      throw new ServiceError("auth_unavailable", "the key set that verifies tokens could not be fetched; try again shortly", {
        "retry-after": String(Math.ceil(error.retryAfterMs / 1000)),
      });
    }
    if (isKeySetFailure(jose, error)) {
      throw new ServiceError("auth_unavailable", "the key set that verifies tokens could not be fetched; try again");
    }
    if (error instanceof joseErrors.JWTExpired) throw unauthorized("the token has expired", true);
    throw unauthorized("the token is not valid for this endpoint", true);
  }
}
