import * as v from "valibot";
import { isLoopbackHost, readVar, type Env } from "../env.ts";
import { ServiceError } from "../errors.ts";
import { IceServerSchema, type IceServer } from "../ice-urls.ts";
import type { Continent } from "../routing/continents.ts";
import { parseReply, refusalOf, upstreamStatusError, type UpstreamReply, type UpstreamRequest } from "../upstream/upstream.ts";
import { SERVICE_MAX_TTL, type Provider } from "./provider.ts";
import { meteredUsage } from "../spend/metered-usage.ts";

export const METERED = "Metered";

export interface MeteredConfig {
  /** Such as https://demo.metered.live */
  readonly origin: string;
  /** Expiring credentials per request; the key must stay on the server. */
  readonly secretKey?: string;
  /** The static mode: one long-lived credential's ICE servers. */
  readonly apiKey?: string;
  /** A region name, or `auto`: the caller's continent's (METERED_AUTO_REGIONS). */
  readonly region?: string;
}

/**
 * METERED_REGION=auto: the region of Metered's list (the Get TURN Credential API's `region`,
 * https://www.metered.ca/docs/turn-rest-api/get-credential) for each continent that has one.
 * Africa, Antarctica and South America have none, nor has a caller of unknown place: they get
 * Metered's global relays, which route to the nearest server themselves.
 */
export const METERED_AUTO_REGIONS: Partial<Record<Continent, string>> = {
  AS: "asia",
  EU: "europe",
  NA: "north_america",
  OC: "oceania",
};

/** The region to pin for this caller: the configured one, or for `auto` the continent's, if any. */
function regionFor(config: MeteredConfig, continent: Continent | undefined): string | undefined {
  if (config.region !== "auto") return config.region;
  return continent && METERED_AUTO_REGIONS[continent];
}

/** Metered's documented global relay URLs, for a credential it just created. */
export const METERED_GLOBAL_URLS = {
  stun: ["stun:stun.relay.metered.ca:80"],
  turn: [
    "turn:global.relay.metered.ca:80",
    "turn:global.relay.metered.ca:80?transport=tcp",
    "turn:global.relay.metered.ca:443",
    "turns:global.relay.metered.ca:443?transport=tcp",
  ],
};

/** "demo", "demo.metered.live" or a full origin such as https://demo.metered.live. */
function originOf(app: string): string | undefined {
  if (/^https?:\/\/[^/?#\s]+\/?$/i.test(app)) return app.replace(/\/+$/, "");
  if (/^[a-z0-9][a-z0-9-]*$/i.test(app)) return `https://${app.toLowerCase()}.metered.live`;
  if (/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(app)) return `https://${app.toLowerCase()}`;
  return undefined;
}

function secureOrigin(origin: string): boolean {
  if (!URL.canParse(origin)) return false;
  const { protocol, hostname } = new URL(origin);
  return protocol === "https:" || isLoopbackHost(hostname);
}

function configureMetered(env: Env): MeteredConfig | undefined {
  const app = readVar(env, "METERED_APP");
  const secretKey = readVar(env, "METERED_SECRET_KEY");
  const apiKey = readVar(env, "METERED_API_KEY");
  const region = readVar(env, "METERED_REGION");
  if (!app && !secretKey && !apiKey && !region) return undefined;
  if (!app) throw new ServiceError("not_configured", "METERED_APP is not set, but other METERED_ variables are");
  if (!secretKey && !apiKey) {
    throw new ServiceError("not_configured", "METERED_APP is set, but neither METERED_SECRET_KEY nor METERED_API_KEY is");
  }
  const origin = originOf(app);
  if (!origin) throw new ServiceError("invalid_config", "METERED_APP must be the app name, its domain, or its https:// origin");
  // The secret key travels in the query string: in clear over http://, except to a loopback test server.
  if (!secureOrigin(origin)) {
    throw new ServiceError(
      "invalid_config",
      "METERED_APP must be the app name, its domain, or its https:// origin: plain http:// is allowed only to a loopback host (127.0.0.1, ::1, localhost)",
    );
  }
  if (region !== undefined && !/^[a-z0-9_-]{1,64}$/i.test(region)) {
    throw new ServiceError("invalid_config", "METERED_REGION must be a region name such as europe or us_east, or auto");
  }
  return { origin, secretKey, apiKey, region: region === undefined ? undefined : region.toLowerCase() === "auto" ? "auto" : region };
}

/** POST /api/v1/turn/credential?secretKey=…, always with an expiry: without one Metered's credential never expires. */
export function prepareMeteredCredential(config: MeteredConfig & { secretKey: string }, ttl: number, label: string): UpstreamRequest {
  return {
    url: `${config.origin}/api/v1/turn/credential?secretKey=${encodeURIComponent(config.secretKey)}`,
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ expiryInSeconds: ttl, label }),
  };
}

/** GET /api/v1/turn/credentials?apiKey=…[&region=…]: the ICE servers array of one credential. */
export function prepareMeteredIceServers(config: MeteredConfig, apiKey: string, region: string | undefined): UpstreamRequest {
  const query = new URLSearchParams({ apiKey });
  if (region) query.set("region", region);
  return { url: `${config.origin}/api/v1/turn/credentials?${query}`, method: "GET", headers: { accept: "application/json" } };
}

const CredentialSchema = v.object({
  username: v.pipe(v.string(), v.minLength(1)),
  password: v.pipe(v.string(), v.minLength(1)),
  apiKey: v.optional(v.string()),
  // Read when it is a usable number; anything else there is no reason to refuse the credential.
  expiryInSeconds: v.fallback(v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))), undefined),
});

const IceServersSchema = v.pipe(v.array(IceServerSchema), v.minLength(1));

export function processMeteredCredential(reply: UpstreamReply): v.InferOutput<typeof CredentialSchema> {
  return parseReply(reply, CredentialSchema, METERED);
}

export function processMeteredIceServers(reply: UpstreamReply): IceServer[] {
  return parseReply(reply, IceServersSchema, METERED);
}

/** DELETE /api/v1/turn/credential?secretKey=… with {"username": …}: the credential stops working. */
export function prepareMeteredRevoke(config: MeteredConfig & { secretKey: string }, username: string): UpstreamRequest {
  return {
    url: `${config.origin}/api/v1/turn/credential?secretKey=${encodeURIComponent(config.secretKey)}`,
    method: "DELETE",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ username }),
  };
}

export function processMeteredRevoke(reply: UpstreamReply): void {
  if (refusalOf(reply.status)) throw upstreamStatusError(reply, METERED);
}

/** A fresh credential with Metered's documented global URLs: one upstream call. */
function globalIceServers(username: string, credential: string): IceServer[] {
  return [{ urls: METERED_GLOBAL_URLS.stun }, { urls: METERED_GLOBAL_URLS.turn, username, credential }];
}

export const metered: Provider<MeteredConfig, "metered"> = {
  id: "metered",
  label: METERED,
  // Metered documents no largest expiryInSeconds.
  maxTtl: SERVICE_MAX_TTL,
  variables: ["METERED_APP", "METERED_SECRET_KEY", "METERED_API_KEY", "METERED_REGION"],
  enableHint: "METERED_APP with METERED_SECRET_KEY (or METERED_API_KEY)",
  configure: configureMetered,
  async issue(config, request, upstream) {
    const region = regionFor(config, request.continent);
    if (config.secretKey) {
      const created = processMeteredCredential(
        await upstream.call(prepareMeteredCredential({ ...config, secretKey: config.secretKey }, request.ttl, request.identity)),
      );
      // Metered echoes the expiry it set; a shorter one than asked is what the credential has.
      const ttl = Math.min(request.ttl, created.expiryInSeconds ?? request.ttl);
      // Only Metered knows a pinned region's host names, so a region costs a second call.
      if (!region) return { iceServers: globalIceServers(created.username, created.password), ttl };
      if (!created.apiKey) throw new ServiceError("upstream_invalid_response", `${METERED} returned no apiKey for the pinned region`);
      return { iceServers: processMeteredIceServers(await upstream.call(prepareMeteredIceServers(config, created.apiKey, region))), ttl };
    }
    // The static mode's one credential outlives any ttl: callers refresh on the ttl they asked for.
    return {
      iceServers: processMeteredIceServers(await upstream.call(prepareMeteredIceServers(config, config.apiKey!, region))),
      ttl: request.ttl,
    };
  },
  async revoke(config, username, upstream) {
    // The static mode hands everyone the same credential: revoking it would cut every caller off.
    if (!config.secretKey)
      throw new ServiceError(
        "not_revocable",
        "Metered's static mode (METERED_API_KEY) hands out one shared credential, which is not revoked per caller",
      );
    processMeteredRevoke(await upstream.call(prepareMeteredRevoke({ ...config, secretKey: config.secretKey }, username)));
  },
  usage: meteredUsage,
};
