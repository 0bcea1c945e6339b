/**
 * Xirsys: PUT {base}/_turn/{channel} with HTTP Basic authentication (ident and secret) and
 * {"format": "urls"}, answered {"s": "ok", "v": {"iceServers": …}}, or {"s": "error", "v":
 * "<reason>"}, sometimes with HTTP 200. The documentation (https://github.com/xirdev/docs-api,
 * turn-service.md) shows the PUT and the wrapper; the credential's lifetime is not in it.
 * Xirsys's own sample SDK (github.com/xirsys/openai-realtime-xirsys-webrtc, src/sdk/xirsys.ts)
 * asks for one with `?expire=<seconds>` and asks for 21600 at most: we do the same.
 */
import * as v from "valibot";
import { basicAuthorization } from "../upstream/basic-auth.ts";
import { isPathSegment } from "../upstream/path-segment.ts";
import { readVar, secureUrl, type Env } from "../env.ts";
import { ServiceError } from "../errors.ts";
import { IceServerSchema } from "../ice-urls.ts";
import type { Continent } from "../routing/continents.ts";
import { parseReply, type UpstreamReply, type UpstreamRequest } from "../upstream/upstream.ts";
import type { Grant, Provider } from "./provider.ts";

export const XIRSYS = "Xirsys";
export const XIRSYS_DEFAULT_API_BASE = "https://global.xirsys.net";
/** Not documented: the most Xirsys's own sample SDK asks for (6 hours). */
export const XIRSYS_MAX_TTL = 21_600;

export interface XirsysConfig {
  readonly ident: string;
  readonly secret: string;
  /** The channel's path segments, such as ["MyFirstApp"]. */
  readonly channel: readonly string[];
  /** An origin, or `auto`: the caller's continent's gateway (XIRSYS_AUTO_GATEWAYS). */
  readonly apiBase: string;
}

/**
 * XIRSYS_API_BASE=auto: the gateway Xirsys's geo endpoints page lists for each continent that has
 * one (github.com/xirdev/docs-api, geo-endpoints.md: US East, Amsterdam, Singapore, Melbourne).
 * Elsewhere, and for a caller of unknown place, the global gateway, which picks a cluster itself.
 */
export const XIRSYS_AUTO_GATEWAYS: Partial<Record<Continent, string>> = {
  AS: "https://ss.xirsys.com",
  EU: "https://es.xirsys.com",
  NA: "https://us.xirsys.com",
  OC: "https://ms.xirsys.com",
};

function gatewayFor(apiBase: string, continent: Continent | undefined): string {
  if (apiBase !== "auto") return apiBase;
  return (continent && XIRSYS_AUTO_GATEWAYS[continent]) ?? XIRSYS_DEFAULT_API_BASE;
}

const ApiBase = secureUrl("XIRSYS_API_BASE");

function configureXirsys(env: Env): XirsysConfig | undefined {
  const ident = readVar(env, "XIRSYS_IDENT");
  const secret = readVar(env, "XIRSYS_SECRET");
  const channel = readVar(env, "XIRSYS_CHANNEL");
  if (!ident && !secret && !channel) return undefined;
  for (const [name, value] of [
    ["XIRSYS_IDENT", ident],
    ["XIRSYS_SECRET", secret],
    ["XIRSYS_CHANNEL", channel],
  ] as const) {
    if (!value)
      throw new ServiceError(
        "not_configured",
        `${name} is not set, but other XIRSYS_ variables are: set XIRSYS_IDENT, XIRSYS_SECRET and XIRSYS_CHANNEL`,
      );
  }
  // Basic authentication separates the user from the password with the first colon.
  if (ident!.includes(":")) throw new ServiceError("invalid_config", "XIRSYS_IDENT cannot contain a colon");
  // A channel is a path (a/b); "." or ".." in it would reach another endpoint.
  const segments = channel!.replace(/^\/+|\/+$/g, "").split("/");
  if (!segments.every(isPathSegment)) {
    throw new ServiceError("invalid_config", "XIRSYS_CHANNEL must be the channel's name or path, without empty, '.' or '..' segments");
  }
  const apiBase = readVar(env, "XIRSYS_API_BASE") ?? XIRSYS_DEFAULT_API_BASE;
  if (apiBase.toLowerCase() === "auto") return { ident: ident!, secret: secret!, channel: segments, apiBase: "auto" };
  const base = v.safeParse(ApiBase, apiBase);
  if (!base.success) throw new ServiceError("invalid_config", base.issues[0].message);
  return { ident: ident!, secret: secret!, channel: segments, apiBase: base.output };
}

/** PUT {base}/_turn/{channel}?expire=N with {"format":"urls"}: one server object holding every URL. */
export function prepareXirsysTurn(config: XirsysConfig, ttl: number): UpstreamRequest {
  const path = config.channel.map(encodeURIComponent).join("/");
  return {
    url: `${config.apiBase}/_turn/${path}?${new URLSearchParams({ expire: String(ttl) })}`,
    method: "PUT",
    headers: {
      authorization: basicAuthorization(config.ident, config.secret),
      "content-type": "application/json",
      accept: "application/json",
    },
    body: JSON.stringify({ format: "urls" }),
  };
}

// With format "urls" the servers come as one object; without it, as an array.
const IceServersSchema = v.pipe(
  v.union([v.pipe(v.array(IceServerSchema), v.minLength(1)), IceServerSchema]),
  v.transform((servers) => (Array.isArray(servers) ? servers : [servers])),
);
const XirsysReplySchema = v.variant("s", [
  v.object({ s: v.literal("ok"), v: v.object({ iceServers: IceServersSchema }) }),
  v.object({ s: v.literal("error") }),
]);

/**
 * Checks status, wrapper and shape. An {"s": "error"} is a failure whatever the HTTP status;
 * its reason is not shown, as no upstream body is, and Xirsys does not document the reasons.
 */
export function processXirsysTurn(reply: UpstreamReply, ttl: number): Grant {
  const answer = parseReply(reply, XirsysReplySchema, XIRSYS);
  if (answer.s === "error") throw new ServiceError("upstream_error", `${XIRSYS} answered with an error`);
  return { iceServers: answer.v.iceServers, ttl };
}

export const xirsys: Provider<XirsysConfig, "xirsys"> = {
  id: "xirsys",
  label: XIRSYS,
  maxTtl: XIRSYS_MAX_TTL,
  variables: ["XIRSYS_IDENT", "XIRSYS_SECRET", "XIRSYS_CHANNEL", "XIRSYS_API_BASE"],
  enableHint: "XIRSYS_IDENT, XIRSYS_SECRET and XIRSYS_CHANNEL",
  configure: configureXirsys,
  async issue(config, request, upstream) {
    // The answer does not say how long the credential lasts: it is the expire we asked for.
    const apiBase = gatewayFor(config.apiBase, request.continent);
    return processXirsysTurn(await upstream.call(prepareXirsysTurn({ ...config, apiBase }, request.ttl)), request.ttl);
  },
  // No revoke: Xirsys documents no way to revoke one credential.
};
