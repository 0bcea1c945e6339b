import { MIN_SECRET_LENGTH, readList, readSecretList, type Env } from "../env.ts";
import { ServiceError } from "../errors.ts";
import { base64, type Hmac } from "../hmac.ts";
import { parseIceUrl, type IceServer } from "../ice-urls.ts";
import { SERVICE_MAX_TTL, type Provider } from "./provider.ts";

/**
 * The TURN REST API scheme that coturn implements with `use-auth-secret`:
 * the server and we share a secret, so credentials are computed, not fetched.
 */
export interface SharedSecretConfig {
  /** The first signs; the others are kept so a rotation can be rolled out on the TURN side first. */
  readonly secrets: readonly string[];
  readonly urls: readonly string[];
}

function configureSharedSecret(env: Env): SharedSecretConfig | undefined {
  const secrets = readSecretList(env, "TURN_SHARED_SECRET");
  const urls = readList(env, "TURN_URLS");
  if (secrets.length === 0 && urls.length === 0) return undefined;
  if (secrets.length === 0)
    throw new ServiceError("not_configured", "TURN_SHARED_SECRET is not set, but TURN_URLS is: set both or neither");
  if (urls.length === 0) throw new ServiceError("not_configured", "TURN_URLS is not set, but TURN_SHARED_SECRET is: set both or neither");
  // Every answer carries HMAC-SHA1(secret, username) beside its username: an offline oracle for
  // the secret, which mints credentials of any lifetime. The floor puts it beyond guessing.
  const short = secrets.findIndex((secret) => secret.length < MIN_SECRET_LENGTH);
  if (short >= 0) {
    throw new ServiceError(
      "invalid_config",
      `TURN_SHARED_SECRET entry ${short + 1} must be at least ${MIN_SECRET_LENGTH} characters (generate it: openssl rand -hex 32)`,
    );
  }
  const bad = urls.findIndex((url) => !parseIceUrl(url));
  if (bad >= 0) {
    throw new ServiceError("invalid_config", `TURN_URLS entry ${bad + 1} is not a stun:, turn: or turns: URL`);
  }
  return { secrets, urls };
}

const encoder = new TextEncoder();

/** base64(HMAC-SHA1(secret, username)), the password coturn expects for `username`. */
export async function turnRestCredential(secret: string, username: string, hmac: Hmac): Promise<string> {
  return base64(await hmac.sign(secret, "SHA-1", encoder.encode(username)));
}

/** "<unix expiry>:<identity>", so the TURN server can check the expiry without state. */
export function turnRestUsername(nowMs: number, ttl: number, identity: string): string {
  return `${Math.floor(nowMs / 1000) + ttl}:${identity}`;
}

export const sharedSecret: Provider<SharedSecretConfig, "shared-secret"> = {
  id: "shared-secret",
  label: "Shared-secret TURN",
  // The scheme has no limit: the expiry is whatever the username says.
  maxTtl: SERVICE_MAX_TTL,
  variables: ["TURN_SHARED_SECRET", "TURN_URLS"],
  enableHint: "TURN_SHARED_SECRET and TURN_URLS",
  configure: configureSharedSecret,
  async issue(config, request) {
    const username = turnRestUsername(request.now, request.ttl, request.identity);
    const credential = await turnRestCredential(config.secrets[0], username, request.hmac);
    const stun = config.urls.filter((url) => parseIceUrl(url)!.scheme.startsWith("stun"));
    const turn = config.urls.filter((url) => parseIceUrl(url)!.scheme.startsWith("turn"));
    const servers: IceServer[] = [];
    if (stun.length > 0) servers.push({ urls: stun });
    if (turn.length > 0) servers.push({ urls: turn, username, credential });
    return { iceServers: servers, ttl: request.ttl };
  },
};
