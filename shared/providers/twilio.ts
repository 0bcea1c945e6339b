/**
 * Twilio's Network Traversal Service: POST {base}/2010-04-01/Accounts/{AccountSid}/Tokens.json
 * with HTTP Basic authentication and a form-encoded Ttl, answered 201 with a token whose
 * ice_servers go to the browser. https://www.twilio.com/docs/stun-turn/api
 */
import * as v from "valibot";
import { basicAuthorization } from "../upstream/basic-auth.ts";
import { readVar, secureUrl, type Env } from "../env.ts";
import { ServiceError } from "../errors.ts";
import { IceServerSchema } from "../ice-urls.ts";
import { parseReply, type UpstreamReply, type UpstreamRequest } from "../upstream/upstream.ts";
import type { Grant, Provider } from "./provider.ts";
import { twilioUsage } from "../spend/twilio-usage.ts";

export const TWILIO = "Twilio";
export const TWILIO_DEFAULT_API_BASE = "https://api.twilio.com";
/** "The lifetime is configurable up to 24 hours (which is also the default value)." */
export const TWILIO_MAX_TTL = 86_400;

export interface TwilioConfig {
  readonly accountSid: string;
  /** Who signs in: the account SID with its auth token, or an API key SID with its secret. */
  readonly username: string;
  readonly password: string;
  readonly apiBase: string;
}

const ApiBase = secureUrl("TWILIO_API_BASE");
// Twilio's SIDs: two letters and 32 hex digits. The account SID is a path segment, so nothing else may pass.
const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
const API_KEY_SID = /^SK[0-9a-fA-F]{32}$/;

function configureTwilio(env: Env): TwilioConfig | undefined {
  const accountSid = readVar(env, "TWILIO_ACCOUNT_SID");
  const authToken = readVar(env, "TWILIO_AUTH_TOKEN");
  const apiKeySid = readVar(env, "TWILIO_API_KEY_SID");
  const apiKeySecret = readVar(env, "TWILIO_API_KEY_SECRET");
  if (!accountSid && !authToken && !apiKeySid && !apiKeySecret) return undefined;
  if (!accountSid) throw new ServiceError("not_configured", "TWILIO_ACCOUNT_SID is not set, but other TWILIO_ variables are");
  if (!ACCOUNT_SID.test(accountSid))
    throw new ServiceError("invalid_config", "TWILIO_ACCOUNT_SID must be AC followed by 32 hexadecimal digits");
  if (authToken && (apiKeySid || apiKeySecret)) {
    throw new ServiceError("invalid_config", "set TWILIO_AUTH_TOKEN, or TWILIO_API_KEY_SID with TWILIO_API_KEY_SECRET, not both");
  }
  if (!authToken && !apiKeySid && !apiKeySecret) {
    throw new ServiceError(
      "not_configured",
      "TWILIO_ACCOUNT_SID is set, but neither TWILIO_AUTH_TOKEN nor TWILIO_API_KEY_SID with TWILIO_API_KEY_SECRET is",
    );
  }
  if (apiKeySid && !apiKeySecret)
    throw new ServiceError("not_configured", "TWILIO_API_KEY_SECRET is not set, but TWILIO_API_KEY_SID is: set both or neither");
  if (apiKeySecret && !apiKeySid)
    throw new ServiceError("not_configured", "TWILIO_API_KEY_SID is not set, but TWILIO_API_KEY_SECRET is: set both or neither");
  if (apiKeySid && !API_KEY_SID.test(apiKeySid))
    throw new ServiceError("invalid_config", "TWILIO_API_KEY_SID must be SK followed by 32 hexadecimal digits");
  const base = v.safeParse(ApiBase, readVar(env, "TWILIO_API_BASE") ?? TWILIO_DEFAULT_API_BASE);
  if (!base.success) throw new ServiceError("invalid_config", base.issues[0].message);
  return apiKeySid
    ? { accountSid, username: apiKeySid, password: apiKeySecret!, apiBase: base.output }
    : { accountSid, username: accountSid, password: authToken!, apiBase: base.output };
}

/** POST {base}/2010-04-01/Accounts/{AccountSid}/Tokens.json with the form body Ttl=N. */
export function prepareTwilioToken(config: TwilioConfig, ttl: number): UpstreamRequest {
  return {
    url: `${config.apiBase}/2010-04-01/Accounts/${config.accountSid}/Tokens.json`,
    method: "POST",
    headers: {
      authorization: basicAuthorization(config.username, config.password),
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    },
    body: new URLSearchParams({ Ttl: String(ttl) }).toString(),
  };
}

// Each ICE server carries the legacy `url` beside `urls` (one string); IceServerSchema keeps `urls` only.
const TwilioTokenSchema = v.object({
  ice_servers: v.pipe(v.array(IceServerSchema), v.minLength(1)),
  // Documented as a string of seconds; a number is read the same.
  ttl: v.pipe(v.union([v.pipe(v.string(), v.regex(/^\d{1,9}$/)), v.pipe(v.number(), v.integer())]), v.transform(Number), v.minValue(1)),
});

/** Checks status, content and shape; the token's ICE servers and the ttl Twilio granted. */
export function processTwilioToken(reply: UpstreamReply): Grant {
  const token = parseReply(reply, TwilioTokenSchema, TWILIO);
  return { iceServers: token.ice_servers, ttl: token.ttl };
}

export const twilio: Provider<TwilioConfig, "twilio"> = {
  id: "twilio",
  label: TWILIO,
  maxTtl: TWILIO_MAX_TTL,
  variables: ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_KEY_SID", "TWILIO_API_KEY_SECRET", "TWILIO_API_BASE"],
  enableHint: "TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN (or TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET)",
  configure: configureTwilio,
  async issue(config, request, upstream) {
    return processTwilioToken(await upstream.call(prepareTwilioToken(config, request.ttl)));
  },
  // No revoke: Twilio's tokens cannot be revoked, only left to expire.
  usage: twilioUsage,
};
