import type { JWTVerifyGetKey } from "jose";
import * as v from "valibot";
import { cappedFetch } from "../upstream/capped-body.ts";
import { MIN_SECRET_LENGTH, secureUrl, readSecretList, readVar, type Env } from "../env.ts";
import { ServiceError } from "../errors.ts";
import { isKeySetFailure, KeySetBackoff, remoteKeySet } from "./jwks.ts";

export type AuthConfig =
  | { mode: "none" }
  | { mode: "bearer"; tokens: readonly string[] }
  | { mode: "jwt"; key: { secret: Uint8Array } | { jwksUrl: string }; issuer: string; audience: string };

/** Who the caller is, once verified: `sub` of a JWT. Bearer tokens name no one. */
export interface Caller {
  user?: string;
  /** What its requests are counted under when that is neither its user nor its address (a TURN REST API key). */
  allowance?: string;
}

// Allowance for clocks that disagree a little between the issuer and this function.
export const JWT_CLOCK_SKEW_SECONDS = 30;
const REALM = 'Bearer realm="turn-credentials"';
const encoder = new TextEncoder();

const JwksUrl = secureUrl("AUTH_JWKS_URL");

// jose is loaded only where JWTs are used, so that every other instance starts without it
// (the module system keeps what it loaded: a second import costs nothing).
const loadJose = () => import("jose");

/**
 * The key sets of a service instance, one per URL: kept for its life, so their cache, cooldown and
 * back-off work. Typed without jose's names, so that the package's declarations never need jose.
 */
export type KeySets = Map<string, unknown>;

async function keySetFor(keySets: KeySets, url: string): Promise<JWTVerifyGetKey> {
  let keySet = keySets.get(url) as JWTVerifyGetKey | undefined;
  if (!keySet) {
    // jose fetches the key set itself: cappedFetch holds its body to the same cap as every upstream's.
    keySet = remoteKeySet(await loadJose(), url, cappedFetch);
    keySets.set(url, keySet);
  }
  return keySet;
}

// The Authorization header carries printable ASCII only, so a token with anything else never matches.
const MIN_BEARER_TOKEN_LENGTH = MIN_SECRET_LENGTH;
// RFC 7518 §3.2: an HS256 key must be at least as long as the hash, 256 bits.
const MIN_HS256_SECRET_BYTES = 32;

/** A comma list of bearer tokens (AUTH_BEARER_TOKENS, TURN_REST_API_KEYS), each long enough not to be guessed. */
export function readTokenList(env: Env, name: string): string[] {
  const tokens = readSecretList(env, name);
  tokens.forEach((token, index) => {
    if (token.length < MIN_BEARER_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) {
      throw new ServiceError(
        "invalid_config",
        `${name} entry ${index + 1} must be at least ${MIN_BEARER_TOKEN_LENGTH} printable ASCII characters, without spaces`,
      );
    }
  });
  return tokens;
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
    const tokens = readTokenList(env, "AUTH_BEARER_TOKENS");
    if (tokens.length === 0) throw new ServiceError("not_configured", "AUTH_MODE=bearer needs AUTH_BEARER_TOKENS");
    return { mode, tokens };
  }
  if (mode !== "jwt") throw new ServiceError("invalid_config", "AUTH_MODE must be none, bearer or jwt");
  const issuer = required(env, "AUTH_JWT_ISSUER");
  const audience = required(env, "AUTH_JWT_AUDIENCE");
  const secret = readVar(env, "AUTH_JWT_SECRET");
  const jwksUrl = readVar(env, "AUTH_JWKS_URL");
  if (secret && jwksUrl) throw new ServiceError("invalid_config", "set AUTH_JWT_SECRET or AUTH_JWKS_URL, not both");
  if (secret) {
    const key = encoder.encode(secret);
    if (key.byteLength < MIN_HS256_SECRET_BYTES) {
      throw new ServiceError(
        "invalid_config",
        `AUTH_JWT_SECRET must be at least ${MIN_HS256_SECRET_BYTES} bytes: HS256 needs a key as long as its hash (RFC 7518 §3.2)`,
      );
    }
    return { mode, key: { secret: key }, issuer, audience };
  }
  if (!jwksUrl) throw new ServiceError("not_configured", "AUTH_MODE=jwt needs AUTH_JWKS_URL or AUTH_JWT_SECRET");
  const parsed = v.safeParse(JwksUrl, jwksUrl);
  if (!parsed.success) throw new ServiceError("invalid_config", parsed.issues[0].message);
  return { mode, key: { jwksUrl: parsed.output }, issuer, audience };
}

export function unauthorized(message: string, invalid: boolean): ServiceError {
  return new ServiceError("unauthorized", message, {
    "www-authenticate": invalid ? `${REALM}, error="invalid_token"` : REALM,
  });
}

/** The token of an `Authorization: Bearer` header, if there is one; 401 when the header is malformed. */
export function bearerToken(request: Request): string | undefined {
  const header = request.headers.get("authorization");
  if (!header) return undefined;
  const match = /^Bearer +([\x21-\x7e]+)\s*$/i.exec(header);
  if (!match) throw unauthorized("the Authorization header must be: Bearer <token>", true);
  return match[1];
}

export async function digest(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
}

/**
 * Compares digests rather than the tokens, so neither the time taken nor an early
 * exit says how much of a guess was right, or how long the real token is.
 */
export async function matchesAny(token: string, tokens: readonly string[]): Promise<boolean> {
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

// The sub becomes the caller's allowance key, the revoke token's owner and Cloudflare's customIdentifier.
const MAX_SUB_LENGTH = 255;

/** A JWT's sub, only as a non-empty string of bounded length: jose checks that it is present, not what it is. */
function subjectOf(sub: unknown): string {
  if (typeof sub !== "string" || sub.length === 0 || sub.length > MAX_SUB_LENGTH) {
    throw unauthorized(`the token's sub must be a non-empty string of at most ${MAX_SUB_LENGTH} characters`, true);
  }
  return sub;
}

/** Verifies the caller, or throws 401 unauthorized (503 auth_unavailable when the key set cannot be fetched). */
export async function authenticate(request: Request, config: AuthConfig, keySets: KeySets): Promise<Caller> {
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
        : await jwtVerify(token, await keySetFor(keySets, config.key.jwksUrl), options);
    return { user: subjectOf(payload.sub) };
  } catch (error) {
    if (error instanceof ServiceError) throw error;
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
