import type { RequestContext } from "../context.ts";
import { issueFromChain } from "./chain.ts";
import { ServiceError } from "../errors.ts";
import type { IceServer } from "../ice-urls.ts";
import { parseIssueInput } from "../http/input.ts";
import { LOCAL_RELAY, PROVIDERS, type ServedBy } from "../providers/index.ts";
import { sharedSecret } from "../providers/shared-secret.ts";
import { jsonResponse } from "../http/respond.ts";
import { signRevokeToken } from "../revocation/revoke-token.ts";
import { checkUserQuota } from "../spend/guard.ts";

/** Served when no provider can be used and STUN-only was asked for. */
export const STUN_ONLY: IceServer[] = [{ urls: ["stun:stun.cloudflare.com:3478"] }];

export interface IceServersBody {
  iceServers: IceServer[];
  ttl: number;
  expiresAt: string;
  provider: ServedBy;
  /** Present when REVOKE_SIGNING_SECRET is set and the credential can be named. */
  revokeToken?: string;
  /** Present, and true, when every provider failed and STUN-only was served instead. */
  degraded?: true;
}

interface Served {
  iceServers: IceServer[];
  provider: ServedBy;
  /** What the credential really lasts, which a provider's limit can make shorter than asked. */
  ttl: number;
  degraded?: true;
}

/** What to answer when no provider is configured and nothing else will do. */
export function noProviderConfigured(): ServiceError {
  const hints = PROVIDERS.map((provider) => provider.enableHint).join("; or ");
  return new ServiceError("not_configured", `no TURN provider is configured: set ${hints}`);
}

async function serve(context: RequestContext, ttl: number): Promise<Served> {
  const { config, caller } = context;
  const request = () => ({
    ttl,
    now: context.now,
    user: caller.user,
    identity: caller.user ?? crypto.randomUUID(),
    continent: context.location?.continent,
  });
  if (config.providers.length === 0) {
    // A newcomer running npm start sees it work at once, through its own coturn where it runs
    // one; a deployment must be configured.
    if (context.local && context.localRelay) {
      const relay = { ...config, providers: [{ provider: sharedSecret, config: context.localRelay }] };
      return { ...(await issueFromChain({ ...context, config: relay }, request())), provider: LOCAL_RELAY };
    }
    if (context.local) return { iceServers: STUN_ONLY, provider: "none", ttl };
    throw noProviderConfigured();
  }
  await checkUserQuota(context);
  try {
    return await issueFromChain(context, request());
  } catch (error) {
    if (!config.fallbackStun || !(error instanceof ServiceError)) throw error;
    context.log.error(`every TURN provider failed (${error.code}): serving STUN-only, as TURN_FALLBACK_STUN asks`, {
      event: "fallback_stun",
      error: error.code,
    });
    return { iceServers: STUN_ONLY, provider: "none", ttl, degraded: true };
  }
}

/** GET or POST /api/ice-servers: input, the providers, and the answer a browser can use as it is. */
export async function issue(context: RequestContext): Promise<Response> {
  const { config, caller } = context;
  const input = await parseIssueInput(context.request, context.url, config.ttl);
  const served = await serve(context, input.ttl ?? config.ttl);
  if (context.trace) context.trace.provider = served.provider;
  const { ttl } = served;
  const expiresAtMs = context.now + ttl * 1000;
  const body: IceServersBody = {
    iceServers: served.iceServers,
    ttl,
    expiresAt: new Date(expiresAtMs).toISOString(),
    provider: served.provider,
  };
  const username = served.iceServers.find((server) => server.username !== undefined)?.username;
  // The local relay's credentials are shared-secret ones, which cannot be revoked.
  if (config.revokeSecret && served.provider !== "none" && served.provider !== LOCAL_RELAY && username !== undefined) {
    const claims = { provider: served.provider, username, expiresAt: Math.ceil(expiresAtMs / 1000), user: caller.user };
    body.revokeToken = await signRevokeToken(config.revokeSecret, claims, context.hmac);
  }
  if (served.degraded) body.degraded = true;
  return jsonResponse(200, body);
}
