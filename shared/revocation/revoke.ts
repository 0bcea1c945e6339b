import { upstreamFor, type RequestContext } from "../context.ts";
import { ServiceError } from "../errors.ts";
import { parseRevokeInput } from "../http/input.ts";
import { noContent } from "../http/respond.ts";
import { verifyRevokeToken } from "./revoke-token.ts";
import { deadlineIn } from "../upstream/upstream.ts";

/**
 * POST /api/ice-servers/revoke with {"revokeToken": "…"}: the token proves the
 * credential was issued to the holder; the provider then stops it. Answers 204,
 * and 204 again for a credential already revoked.
 */
export async function revoke(context: RequestContext): Promise<Response> {
  const { config, caller } = context;
  const { revokeToken } = await parseRevokeInput(context.request, context.url);
  if (!config.revokeSecret) {
    throw new ServiceError("not_revocable", "revocation is off on this server: REVOKE_SIGNING_SECRET is not set");
  }
  const verified = await verifyRevokeToken(config.revokeSecret, revokeToken, context.now, context.hmac);
  if (!verified.ok) {
    if (verified.reason === "expired")
      throw new ServiceError("revoke_token_expired", "the credential has already expired: there is nothing to revoke");
    throw new ServiceError("invalid_revoke_token", "the revoke token is not one this server issued");
  }
  const { claims } = verified;
  // A token minted for a signed-in user is that user's to use, even if it leaks.
  if (claims.user !== undefined && claims.user !== caller.user) {
    throw new ServiceError("invalid_revoke_token", "the revoke token was issued to another user");
  }
  const entry = config.providers.find(({ provider }) => provider.id === claims.provider);
  if (!entry) throw new ServiceError("not_revocable", `${claims.provider} is no longer configured on this server`);
  if (!entry.provider.revoke) {
    throw new ServiceError("not_revocable", `${entry.provider.label} credentials cannot be revoked, only left to expire`);
  }
  const upstream = upstreamFor(context, entry.provider.label, deadlineIn(config.totalTimeoutMs));
  await entry.provider.revoke(entry.config, claims.username, upstream);
  return noContent();
}
