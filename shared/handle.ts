import { loadConfig, type Config, type Env } from "./config.ts";
import { ServiceError } from "./errors.ts";
import { filterIceServers, type IceServer } from "./ice-urls.ts";
import { ALLOWED_METHODS, parseIssueInput } from "./input.ts";
import { CLOUDFLARE, prepareCloudflare, processCloudflare } from "./providers/cloudflare.ts";
import { errorResponse, jsonResponse } from "./respond.ts";
import { fetchWithin, type Fetch } from "./upstream.ts";

export const ICE_SERVERS_PATH = "/api/ice-servers";
/** Served when nothing is configured and the host asked for a working answer anyway (npm start). */
export const STUN_ONLY: IceServer[] = [{ urls: ["stun:stun.cloudflare.com:3478"] }];

export interface Logger {
  warn(message: string): void;
  error(message: string): void;
}

export interface HandleOptions {
  fetch?: Fetch;
  /** Milliseconds since the epoch; injectable so expiry is testable. */
  now?: () => number;
  log?: Logger;
  /** Deployed functions refuse to run unconfigured; a local server may answer STUN-only instead. */
  whenUnconfigured?: "error" | "stun-only";
}

export interface IceServersBody {
  iceServers: IceServer[];
  ttl: number;
  expiresAt: string;
  provider: "cloudflare" | "none";
}

const defaultFetch: Fetch = (request) => fetch(request);

async function issueFromCloudflare(config: Config, ttl: number, options: HandleOptions): Promise<IceServer[]> {
  const cloudflare = config.cloudflare!;
  const reply = await fetchWithin(options.fetch ?? defaultFetch, prepareCloudflare(cloudflare, ttl), config.upstreamTimeoutMs, CLOUDFLARE);
  try {
    return processCloudflare(reply);
  } catch (error) {
    if (error instanceof ServiceError && error.code === "upstream_unauthorized") {
      // An operator problem, not the caller's: say where to look, without the upstream body.
      (options.log ?? console).error(
        `Cloudflare answered HTTP ${reply.status} to the credential request: check CLOUDFLARE_TURN_KEY_ID and CLOUDFLARE_TURN_KEY_API_TOKEN`,
      );
    }
    throw error;
  }
}

async function issueIceServers(request: Request, url: URL, env: Env, options: HandleOptions): Promise<Response> {
  if (!(ALLOWED_METHODS as readonly string[]).includes(request.method)) {
    throw new ServiceError("method_not_allowed", `use ${ALLOWED_METHODS.join(" or ")}`, { allow: ALLOWED_METHODS.join(", ") });
  }
  const config = loadConfig(env);
  const input = await parseIssueInput(request, url, config.ttl);
  const ttl = input.ttl ?? config.ttl;

  let iceServers: IceServer[];
  let provider: IceServersBody["provider"];
  if (config.cloudflare) {
    const filtered = filterIceServers(await issueFromCloudflare(config, ttl, options), { keepPort53: config.keepPort53 });
    if (filtered.malformed.length > 0) {
      (options.log ?? console).warn(`Cloudflare sent ${filtered.malformed.length} ICE URL(s) no browser accepts; they were dropped`);
    }
    if (filtered.servers.length === 0) {
      throw new ServiceError("upstream_invalid_response", "Cloudflare answered with no ICE URL a browser can use");
    }
    iceServers = filtered.servers;
    provider = "cloudflare";
  } else if (options.whenUnconfigured === "stun-only") {
    iceServers = STUN_ONLY;
    provider = "none";
  } else {
    throw new ServiceError("not_configured", "no TURN provider is configured: set CLOUDFLARE_TURN_KEY_ID and CLOUDFLARE_TURN_KEY_API_TOKEN");
  }

  const now = (options.now ?? Date.now)();
  const body: IceServersBody = { iceServers, ttl, expiresAt: new Date(now + ttl * 1000).toISOString(), provider };
  return jsonResponse(200, body);
}

/**
 * The whole service behind one web-standard call. Every platform adapter calls
 * this and nothing else; it never throws, every failure is a JSON answer.
 */
export async function handle(request: Request, env: Env, options: HandleOptions = {}): Promise<Response> {
  try {
    const url = new URL(request.url);
    if (url.pathname.replace(/\/+$/, "") !== ICE_SERVERS_PATH) {
      throw new ServiceError("not_found", `nothing is served here: ask for ${ICE_SERVERS_PATH}`);
    }
    return await issueIceServers(request, url, env, options);
  } catch (error) {
    if (!(error instanceof ServiceError)) {
      // Only the error's kind is logged: its message could quote a request or an upstream.
      (options.log ?? console).error(`unexpected failure handling ${request.method}: ${(error as Error)?.name ?? typeof error}`);
    }
    return errorResponse(error);
  }
}
