import * as v from "valibot";
import type { CloudflareConfig } from "../config.ts";
import { ServiceError } from "../errors.ts";
import type { IceServer } from "../ice-urls.ts";
import { upstreamStatusError, type UpstreamReply } from "../upstream.ts";

export const CLOUDFLARE = "Cloudflare";

/** POST {base}/turn/keys/{keyId}/credentials/generate-ice-servers with {"ttl": N}. */
export function prepareCloudflare(config: CloudflareConfig, ttl: number): Request {
  return new Request(`${config.apiBase}/turn/keys/${encodeURIComponent(config.keyId)}/credentials/generate-ice-servers`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${config.apiToken}`,
      "content-type": "application/json",
      accept: "application/json",
    },
    body: JSON.stringify({ ttl }),
  });
}

const UrlsSchema = v.pipe(
  v.union([v.string(), v.array(v.string())]),
  v.transform((urls) => (typeof urls === "string" ? [urls] : urls)),
  v.minLength(1),
);

const IceServerSchema = v.object({
  urls: UrlsSchema,
  username: v.optional(v.string()),
  credential: v.optional(v.string()),
});

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
  if (reply.status < 200 || reply.status > 299) throw upstreamStatusError(reply, CLOUDFLARE);
  let json: unknown;
  try {
    json = JSON.parse(reply.body);
  } catch {
    throw new ServiceError("upstream_invalid_response", `${CLOUDFLARE} answered with a body that is not JSON`);
  }
  const result = v.safeParse(CloudflareReplySchema, json);
  if (!result.success) {
    throw new ServiceError("upstream_invalid_response", `${CLOUDFLARE} answered with an unexpected shape`);
  }
  return result.output.iceServers.map(({ urls, username, credential }) => ({
    urls,
    ...(username !== undefined ? { username } : {}),
    ...(credential !== undefined ? { credential } : {}),
  }));
}
