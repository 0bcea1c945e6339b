/**
 * Cloudflare's TURN key management, on the account API and its v4 envelope
 * ({ success, errors, messages, result }). Each operation is a pair: prepare*
 * builds the request, process* judges the reply. The exchange in between is
 * injectable, so the CLI, the server and the tests each bring their own fetch.
 */
import * as v from "valibot";
import { ServiceError } from "../../errors.ts";
import { pathSegment } from "../../upstream/path-segment.ts";
import { fetchWithin, refusalOf, type Fetch, type UpstreamReply, type UpstreamRequest } from "../../upstream/upstream.ts";

export const CLOUDFLARE_ACCOUNT_API_BASE = "https://api.cloudflare.com/client/v4";
export const CLOUDFLARE_API_TIMEOUT_MS = 10_000;

export interface AccountApiConfig {
  readonly accountId: string;
  /** An API token with the "Calls Write" permission on the account. */
  readonly apiToken: string;
  readonly apiBase: string;
}

export type CloudflareApiErrorCode = "unauthorized" | "not_found" | "api_error" | "invalid_response" | "network_error";

/** Meant for an operator to read: never carries a token, a key or a whole body. */
export class CloudflareApiError extends Error {
  readonly code: CloudflareApiErrorCode;
  /** The HTTP status Cloudflare answered with, when it answered at all. */
  readonly status: number | undefined;

  constructor(code: CloudflareApiErrorCode, message: string, status?: number) {
    super(message);
    this.name = "CloudflareApiError";
    this.code = code;
    this.status = status;
  }
}

/**
 * Sends the request and reads the whole body under one deadline (the same timed
 * exchange the server uses), in this API's error vocabulary. Failures name only
 * the origin and a system error code: the cause can carry the full URL.
 */
export async function exchange(fetch: Fetch, request: UpstreamRequest, timeoutMs = CLOUDFLARE_API_TIMEOUT_MS): Promise<UpstreamReply> {
  try {
    return await fetchWithin(fetch, request, timeoutMs, new URL(request.url).origin);
  } catch (error) {
    throw new CloudflareApiError("network_error", error instanceof ServiceError ? error.message : "the request failed");
  }
}

const MessageSchema = v.object({
  code: v.optional(v.union([v.number(), v.string()])),
  message: v.string(),
});

const EnvelopeSchema = v.object({
  success: v.boolean(),
  errors: v.optional(v.array(MessageSchema), []),
  messages: v.optional(v.array(v.unknown()), []),
  result: v.optional(v.unknown()),
});

const optionalText = v.optional(
  v.pipe(
    v.nullable(v.string()),
    v.transform((text) => text ?? undefined),
  ),
);

// v.object drops keys it does not list, so a secret `key` that list or get might
// return never gets past this schema: only create's schema lets it through.
const TurnKeySchema = v.object({
  uid: v.pipe(v.string(), v.minLength(1)),
  name: optionalText,
  created: optionalText,
  modified: optionalText,
});

const CreatedTurnKeySchema = v.object({
  ...TurnKeySchema.entries,
  key: v.pipe(v.string(), v.minLength(1)),
});

export type TurnKey = v.InferOutput<typeof TurnKeySchema>;
export type CreatedTurnKey = v.InferOutput<typeof CreatedTurnKeySchema>;

function parseJson(body: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch {
    return { ok: false };
  }
}

const joinMessages = (errors: v.InferOutput<typeof MessageSchema>[]) =>
  errors.map(({ code, message }) => (code === undefined ? message : `${message} [${code}]`)).join("; ");

/** Cloudflare's own error texts, as "message [code]; ...", or "" when the body has none. */
export function cloudflareErrorDetails(body: string): string {
  const json = parseJson(body);
  if (!json.ok) return "";
  const errors = v.safeParse(v.object({ errors: v.array(MessageSchema) }), json.value);
  return errors.success ? joinMessages(errors.output.errors) : "";
}

/** Maps a refused status to a typed error; shared by both Cloudflare APIs. */
export function statusError(reply: UpstreamReply, refused: string, notFound: string): CloudflareApiError {
  const { status } = reply;
  const details = cloudflareErrorDetails(reply.body);
  const said = details ? `: ${details}` : "";
  // The server's reading of the status (upstream.ts), rendered for an operator with Cloudflare's own words.
  const refusal = refusalOf(status);
  if (refusal === "unauthorized") return new CloudflareApiError("unauthorized", `${refused} (HTTP ${status}${said})`, status);
  if (refusal === "not_found") return new CloudflareApiError("not_found", `${notFound} (HTTP 404)`, status);
  return new CloudflareApiError("api_error", `Cloudflare answered HTTP ${status}${said}`, status);
}

const REFUSED = 'Cloudflare refused the API token: it needs the "Calls Write" permission on this account';
const UNKNOWN_KEY = "unknown TURN key id";
const UNKNOWN_ACCOUNT = "Cloudflare does not know this account or path: check the account id and the API base";

/** Status, then JSON, then the envelope, then `success`: returns the bare `result`. */
function resultOf(reply: UpstreamReply, notFound: string): unknown {
  if (refusalOf(reply.status)) throw statusError(reply, REFUSED, notFound);
  const json = parseJson(reply.body);
  if (!json.ok) throw new CloudflareApiError("invalid_response", "Cloudflare answered with a body that is not JSON", reply.status);
  const envelope = v.safeParse(EnvelopeSchema, json.value);
  if (!envelope.success) {
    throw new CloudflareApiError("invalid_response", "Cloudflare answered without its v4 envelope", reply.status);
  }
  if (!envelope.output.success) {
    const details = joinMessages(envelope.output.errors);
    throw new CloudflareApiError("api_error", `Cloudflare reported a failure: ${details || "no details given"}`, reply.status);
  }
  return envelope.output.result;
}

function shaped<S extends v.GenericSchema>(schema: S, value: unknown, status: number): v.InferOutput<S> {
  const parsed = v.safeParse(schema, value);
  if (!parsed.success) throw new CloudflareApiError("invalid_response", "Cloudflare answered with an unexpected result shape", status);
  return parsed.output;
}

function keysUrl(config: AccountApiConfig, keyId?: string): string {
  const base = `${config.apiBase.replace(/\/+$/, "")}/accounts/${pathSegment(config.accountId)}/calls/turn_keys`;
  return keyId === undefined ? base : `${base}/${pathSegment(keyId)}`;
}

function accountRequest(config: AccountApiConfig, method: UpstreamRequest["method"], url: string, body?: unknown): UpstreamRequest {
  const headers = { authorization: `Bearer ${config.apiToken}`, accept: "application/json" };
  if (body === undefined) return { url, method, headers };
  return { url, method, headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) };
}

/** GET /accounts/{account_id}/calls/turn_keys */
export function prepareListKeys(config: AccountApiConfig): UpstreamRequest {
  return accountRequest(config, "GET", keysUrl(config));
}

export function processListKeys(reply: UpstreamReply): TurnKey[] {
  // An account without keys may answer `result: null`.
  return shaped(v.nullish(v.array(TurnKeySchema)), resultOf(reply, UNKNOWN_ACCOUNT), reply.status) ?? [];
}

/** GET /accounts/{account_id}/calls/turn_keys/{key_id} */
export function prepareGetKey(config: AccountApiConfig, keyId: string): UpstreamRequest {
  return accountRequest(config, "GET", keysUrl(config, keyId));
}

export function processGetKey(reply: UpstreamReply): TurnKey {
  return shaped(TurnKeySchema, resultOf(reply, UNKNOWN_KEY), reply.status);
}

/** POST /accounts/{account_id}/calls/turn_keys with {"name": ...} */
export function prepareCreateKey(config: AccountApiConfig, name: string): UpstreamRequest {
  return accountRequest(config, "POST", keysUrl(config), { name });
}

/** The only answer that carries the secret `key`; Cloudflare never shows it again. */
export function processCreateKey(reply: UpstreamReply): CreatedTurnKey {
  return shaped(CreatedTurnKeySchema, resultOf(reply, UNKNOWN_ACCOUNT), reply.status);
}

/** PUT /accounts/{account_id}/calls/turn_keys/{key_id} with {"name": ...} */
export function prepareRenameKey(config: AccountApiConfig, keyId: string, name: string): UpstreamRequest {
  return accountRequest(config, "PUT", keysUrl(config, keyId), { name });
}

export function processRenameKey(reply: UpstreamReply): TurnKey {
  return shaped(TurnKeySchema, resultOf(reply, UNKNOWN_KEY), reply.status);
}

/** DELETE /accounts/{account_id}/calls/turn_keys/{key_id} */
export function prepareDeleteKey(config: AccountApiConfig, keyId: string): UpstreamRequest {
  return accountRequest(config, "DELETE", keysUrl(config, keyId));
}

/** The key is gone once the envelope says so; what `result` holds is not relied on. */
export function processDeleteKey(reply: UpstreamReply): void {
  resultOf(reply, UNKNOWN_KEY);
}

/**
 * A revoke reply from the TURN API (the request is turn.ts's), rendered for the turn-keys CLI:
 * the same reading of its status as the server's (processCloudflareRevoke), with Cloudflare's
 * own words. Cloudflare documents 204; any 2xx means the credential no longer works.
 */
export function processRevokeCredential(reply: UpstreamReply): void {
  if (!refusalOf(reply.status)) return;
  throw statusError(
    reply,
    "Cloudflare refused the TURN key API token: check CLOUDFLARE_TURN_KEY_ID and CLOUDFLARE_TURN_KEY_API_TOKEN",
    "unknown TURN key id or credential",
  );
}
