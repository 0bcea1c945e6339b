/**
 * Revoking one TURN credential. This talks to the TURN API with the TURN key's
 * own token, not to the account API, so the server that minted a credential can
 * revoke it with the configuration it already has.
 */
import type { CloudflareConfig } from "./providers/cloudflare.ts";
import { pathSegment, statusError } from "./cloudflare-keys.ts";
import type { UpstreamReply, UpstreamRequest } from "./upstream.ts";

/** POST {base}/turn/keys/{keyId}/credentials/{username}/revoke */
export function prepareRevokeCredential(config: CloudflareConfig, username: string): UpstreamRequest {
  const base = config.apiBase.replace(/\/+$/, "");
  const url = `${base}/turn/keys/${pathSegment(config.keyId)}/credentials/${pathSegment(username)}/revoke`;
  return { url, method: "POST", headers: { authorization: `Bearer ${config.apiToken}`, accept: "application/json" } };
}

/** Cloudflare documents 204; any 2xx means the credential no longer works. */
export function processRevokeCredential(reply: UpstreamReply): void {
  if (reply.status >= 200 && reply.status <= 299) return;
  throw statusError(
    reply,
    "Cloudflare refused the TURN key API token: check CLOUDFLARE_TURN_KEY_ID and CLOUDFLARE_TURN_KEY_API_TOKEN",
    "unknown TURN key id or credential",
  );
}
