import type { Caller } from "./auth.ts";
import { issueFromChain, type ChainOptions } from "./chain.ts";
import type { Config } from "./config.ts";
import { ServiceError } from "./errors.ts";
import type { IceServer } from "./ice-urls.ts";
import { parseIssueInput } from "./input.ts";
import { PROVIDERS, type ProviderId } from "./providers/index.ts";
import { jsonResponse } from "./respond.ts";
import { signRevokeToken } from "./revoke-token.ts";

/** Served when no provider can be used and STUN-only was asked for. */
export const STUN_ONLY: IceServer[] = [{ urls: ["stun:stun.cloudflare.com:3478"] }];

export interface IceServersBody {
  iceServers: IceServer[];
  ttl: number;
  expiresAt: string;
  provider: ProviderId | "none";
  /** Present when REVOKE_SIGNING_SECRET is set and the credential can be named. */
  revokeToken?: string;
  /** Present, and true, when every provider failed and STUN-only was served instead. */
  degraded?: true;
}

export interface IssueOptions extends ChainOptions {
  now: number;
  /** npm start: no provider means STUN-only rather than an error. */
  local: boolean;
}

interface Served {
  iceServers: IceServer[];
  provider: ProviderId | "none";
  /** What the credential really lasts, which a provider's limit can make shorter than asked. */
  ttl: number;
  degraded?: true;
}

async function serve(config: Config, ttl: number, caller: Caller, options: IssueOptions): Promise<Served> {
  if (config.providers.length === 0) {
    // A newcomer running npm start sees it work at once; a deployment must be configured.
    if (options.local) {
      if (options.trace) options.trace.provider = "none";
      return { iceServers: STUN_ONLY, provider: "none", ttl };
    }
    const hints = PROVIDERS.map((provider) => provider.enableHint).join("; or ");
    throw new ServiceError("not_configured", `no TURN provider is configured: set ${hints}`);
  }
  try {
    const request = { ttl, now: options.now, user: caller.user, identity: caller.user ?? crypto.randomUUID() };
    return await issueFromChain(config, request, options);
  } catch (error) {
    if (!config.fallbackStun || !(error instanceof ServiceError)) throw error;
    options.log.error(`every TURN provider failed (${error.code}): serving STUN-only, as TURN_FALLBACK_STUN asks`, { event: "fallback_stun", error: error.code });
    if (options.trace) options.trace.provider = "none";
    return { iceServers: STUN_ONLY, provider: "none", ttl, degraded: true };
  }
}

/** GET or POST /api/ice-servers: input, the providers, and the answer a browser can use as it is. */
export async function issue(request: Request, url: URL, config: Config, caller: Caller, options: IssueOptions): Promise<Response> {
  const input = await parseIssueInput(request, url, config.ttl);
  const served = await serve(config, input.ttl ?? config.ttl, caller, options);
  const { ttl } = served;
  const expiresAtMs = options.now + ttl * 1000;
  const body: IceServersBody = { iceServers: served.iceServers, ttl, expiresAt: new Date(expiresAtMs).toISOString(), provider: served.provider };
  const username = served.iceServers.find((server) => server.username !== undefined)?.username;
  if (config.revokeSecret && served.provider !== "none" && username !== undefined) {
    body.revokeToken = await signRevokeToken(config.revokeSecret, {
      provider: served.provider,
      username,
      expiresAt: Math.ceil(expiresAtMs / 1000),
      user: caller.user,
    });
  }
  if (served.degraded) body.degraded = true;
  return jsonResponse(200, body);
}
