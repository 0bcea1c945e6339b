import * as v from "valibot";
import { secureUrl, readVar, type Env } from "../../env.ts";
import { ServiceError } from "../../errors.ts";
import { IceServerSchema, type IceServer } from "../../ice-urls.ts";
import { parseReply, refusalOf, upstreamStatusError, type UpstreamReply, type UpstreamRequest } from "../../upstream/upstream.ts";
import { isPathSegment, pathSegment } from "../../upstream/path-segment.ts";
import type { Provider } from "../provider.ts";
import { cloudflareUsage } from "../../spend/cloudflare-usage.ts";

export const CLOUDFLARE = "Cloudflare";
export const CLOUDFLARE_DEFAULT_API_BASE = "https://rtc.live.cloudflare.com/v1";

export interface CloudflareConfig {
  readonly keyId: string;
  readonly apiToken: string;
  readonly apiBase: string;
}

const ApiBase = secureUrl("CLOUDFLARE_TURN_API_BASE");

function configureCloudflare(env: Env): CloudflareConfig | undefined {
  const keyId = readVar(env, "CLOUDFLARE_TURN_KEY_ID");
  const apiToken = readVar(env, "CLOUDFLARE_TURN_KEY_API_TOKEN");
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
  // The key id is a path segment of every call: "." or ".." would reach another endpoint.
  if (!isPathSegment(keyId)) throw new ServiceError("invalid_config", "CLOUDFLARE_TURN_KEY_ID cannot be '.' or '..'");
  const base = v.safeParse(ApiBase, readVar(env, "CLOUDFLARE_TURN_API_BASE") ?? CLOUDFLARE_DEFAULT_API_BASE);
  if (!base.success) throw new ServiceError("invalid_config", base.issues[0].message);
  return { keyId, apiToken, apiBase: base.output };
}

/**
 * POST {base}/turn/keys/{keyId}/credentials/generate-ice-servers with {"ttl": N}, and the
 * documented customIdentifier (usage analytics per user) when the caller names one: a verified
 * user, or a TURN REST API username.
 */
export function prepareCloudflare(config: CloudflareConfig, ttl: number, user?: string): UpstreamRequest {
  return {
    url: `${config.apiBase}/turn/keys/${encodeURIComponent(config.keyId)}/credentials/generate-ice-servers`,
    method: "POST",
    headers: {
      authorization: `Bearer ${config.apiToken}`,
      "content-type": "application/json",
      accept: "application/json",
    },
    body: JSON.stringify(user === undefined ? { ttl } : { ttl, customIdentifier: user }),
  };
}

// The documented answer is an array (generate-ice-servers); the older
// /credentials/generate endpoint answered with a single object.
const CloudflareReplySchema = v.object({
  iceServers: v.pipe(
    v.union([v.pipe(v.array(IceServerSchema), v.minLength(1)), IceServerSchema]),
    v.transform((servers) => (Array.isArray(servers) ? servers : [servers])),
  ),
});

/** Checks status, content and shape; returns the ICE servers or throws a ServiceError. */
export function processCloudflare(reply: UpstreamReply): IceServer[] {
  return parseReply(reply, CloudflareReplySchema, CLOUDFLARE).iceServers;
}

/** POST {base}/turn/keys/{keyId}/credentials/{username}/revoke */
export function prepareRevokeCredential(config: CloudflareConfig, username: string): UpstreamRequest {
  const base = config.apiBase.replace(/\/+$/, "");
  const url = `${base}/turn/keys/${pathSegment(config.keyId)}/credentials/${pathSegment(username)}/revoke`;
  return { url, method: "POST", headers: { authorization: `Bearer ${config.apiToken}`, accept: "application/json" } };
}

/**
 * A revoke reply, rendered for the server in the same error vocabulary as issuing; the
 * turn-keys CLI renders the same reading for an operator (keys.ts, processRevokeCredential).
 */
export function processCloudflareRevoke(reply: UpstreamReply): void {
  if (refusalOf(reply.status)) throw upstreamStatusError(reply, CLOUDFLARE);
}

export const cloudflare: Provider<CloudflareConfig, "cloudflare"> = {
  id: "cloudflare",
  label: CLOUDFLARE,
  // Cloudflare refuses a ttl above 48 hours.
  maxTtl: 172_800,
  variables: ["CLOUDFLARE_TURN_KEY_ID", "CLOUDFLARE_TURN_KEY_API_TOKEN", "CLOUDFLARE_TURN_API_BASE"],
  enableHint: "CLOUDFLARE_TURN_KEY_ID and CLOUDFLARE_TURN_KEY_API_TOKEN",
  configure: configureCloudflare,
  async issue(config, request, upstream) {
    // Cloudflare grants the ttl it is asked for, or refuses.
    return { iceServers: processCloudflare(await upstream.call(prepareCloudflare(config, request.ttl, request.user))), ttl: request.ttl };
  },
  async revoke(config, username, upstream) {
    // The username is a path segment of the revoke call, and no URL can carry "." or "..".
    if (!isPathSegment(username)) {
      throw new ServiceError(
        "not_revocable",
        `${CLOUDFLARE} cannot be asked to revoke a credential whose username is '.' or '..': it can only expire`,
      );
    }
    processCloudflareRevoke(await upstream.call(prepareRevokeCredential(config, username)));
  },
  usage: cloudflareUsage,
};
