import { admit, checkOrigin, preflight, type HostFacts } from "./access.ts";
import { issueFromChain, type Logger } from "./chain.ts";
import { loadConfig, type Config, type Env } from "./config.ts";
import { ServiceError } from "./errors.ts";
import type { IceServer } from "./ice-urls.ts";
import { ALLOWED_METHODS, parseIssueInput } from "./input.ts";
import { PROVIDERS } from "./providers/index.ts";
import type { ProviderId } from "./providers/provider.ts";
import { errorResponse, jsonResponse } from "./respond.ts";
import type { Fetch } from "./upstream.ts";

export type { Logger } from "./chain.ts";

export const ICE_SERVERS_PATH = "/api/ice-servers";
/** Served when no provider can be used and STUN-only was asked for. */
export const STUN_ONLY: IceServer[] = [{ urls: ["stun:stun.cloudflare.com:3478"] }];

export interface HandleOptions extends HostFacts {
  fetch?: Fetch;
  /** Milliseconds since the epoch; injectable so expiry is testable. */
  now?: () => number;
  log?: Logger;
  /** Jitter source for retries. */
  random?: () => number;
}

export interface IceServersBody {
  iceServers: IceServer[];
  ttl: number;
  expiresAt: string;
  provider: ProviderId | "none";
  /** Present, and true, when every provider failed and STUN-only was served instead. */
  degraded?: true;
}

const defaultFetch: Fetch = (request) => fetch(request);

interface Served {
  iceServers: IceServer[];
  provider: ProviderId | "none";
  degraded?: true;
}

async function serve(config: Config, ttl: number, now: number, user: string | undefined, options: HandleOptions): Promise<Served> {
  const log = options.log ?? console;
  if (config.providers.length === 0) {
    // A newcomer running npm start sees it work at once; a deployment must be configured.
    if (options.local) return { iceServers: STUN_ONLY, provider: "none" };
    const hints = PROVIDERS.map((provider) => provider.enableHint).join("; or ");
    throw new ServiceError("not_configured", `no TURN provider is configured: set ${hints}`);
  }
  try {
    const request = { ttl, now, user, identity: user ?? crypto.randomUUID() };
    return await issueFromChain(config, request, { fetch: options.fetch ?? defaultFetch, log, random: options.random });
  } catch (error) {
    if (!config.fallbackStun || !(error instanceof ServiceError)) throw error;
    log.error(`every TURN provider failed (${error.code}): serving STUN-only, as TURN_FALLBACK_STUN asks`);
    return { iceServers: STUN_ONLY, provider: "none", degraded: true };
  }
}

/**
 * One request, in order: route, configuration, origin, method, caller and
 * allowance, input, then the providers. Returns the answer and the headers
 * (CORS, rate limit) that every answer to this request carries, errors included.
 */
async function respond(request: Request, env: Env, options: HandleOptions, headers: Record<string, string>): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname.replace(/\/+$/, "") !== ICE_SERVERS_PATH) {
    throw new ServiceError("not_found", `nothing is served here: ask for ${ICE_SERVERS_PATH}`);
  }
  const config = loadConfig(env);
  Object.assign(headers, checkOrigin(request, url, config, options.local ?? false));
  if (request.method === "OPTIONS") return preflight(ALLOWED_METHODS);
  if (!(ALLOWED_METHODS as readonly string[]).includes(request.method)) {
    const allow = [...ALLOWED_METHODS, "OPTIONS"].join(", ");
    throw new ServiceError("method_not_allowed", `use ${ALLOWED_METHODS.join(" or ")}`, { allow });
  }
  const log = options.log ?? console;
  const { caller, headers: allowance } = await admit(request, config, { ...options, fetch: options.fetch ?? defaultFetch, log });
  Object.assign(headers, allowance);

  const input = await parseIssueInput(request, url, config.ttl);
  const ttl = input.ttl ?? config.ttl;
  const now = (options.now ?? Date.now)();
  const served = await serve(config, ttl, now, caller.user, options);
  const body: IceServersBody = {
    iceServers: served.iceServers,
    ttl,
    expiresAt: new Date(now + ttl * 1000).toISOString(),
    provider: served.provider,
    ...(served.degraded ? { degraded: true as const } : {}),
  };
  return jsonResponse(200, body);
}

/**
 * The whole service behind one web-standard call. Every platform adapter calls
 * this and nothing else; it never throws, every failure is a JSON answer.
 */
export async function handle(request: Request, env: Env, options: HandleOptions = {}): Promise<Response> {
  // The answer depends on the Origin, so caches must key on it, whatever the outcome.
  const headers: Record<string, string> = { vary: "Origin" };
  let response: Response;
  try {
    response = await respond(request, env, options, headers);
  } catch (error) {
    if (!(error instanceof ServiceError)) {
      // Only the error's kind is logged: its message could quote a request or an upstream.
      (options.log ?? console).error(`unexpected failure handling ${request.method}: ${(error as Error)?.name ?? typeof error}`);
    }
    response = errorResponse(error);
  }
  for (const [name, value] of Object.entries(headers)) {
    if (!response.headers.has(name)) response.headers.set(name, value);
  }
  return response;
}
