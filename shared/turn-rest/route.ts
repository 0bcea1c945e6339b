/**
 * {basePath}/turn-rest: credentials for servers (Janus, a homeserver), in the answer of
 * draft-uberti-behave-turn-rest-00 §2.2, from the same provider chain, rate limit and budget as
 * the browsers' route. A server proves itself with a key from TURN_REST_API_KEYS; no web page may
 * call, so a key never works from one.
 */
import { admit, type AccessOptions } from "../access/admit.ts";
import { digest, matchesAny, unauthorized, type Caller } from "../access/auth.ts";
import { requestOrigin } from "../access/origins.ts";
import type { RequestContext } from "../context.ts";
import { ServiceError } from "../errors.ts";
import { jsonResponse } from "../http/respond.ts";
import { issueFromChain, type Issued } from "../issuing/chain.ts";
import { noProviderConfigured } from "../issuing/issue.ts";
import { checkedRequest, presentedKey, readFields, type TurnRestFields } from "./fields.ts";

const METHODS = ["GET", "POST"];

/** The draft's answer: what Janus, and anything else reading the draft, takes. */
export interface TurnRestBody {
  username: string;
  password: string;
  ttl: number;
  uris: string[];
}

/** A request before its caller is known: this route admits the caller itself, once it has read the key. */
export interface ServerRequestContext extends Omit<RequestContext, "caller" | "now"> {
  access: AccessOptions;
  /** Filled in with the headers every answer to the request carries (the rate limit's). */
  headers: Record<string, string>;
  clock: () => number;
}

/** A browser says where a request comes from (Origin, or Fetch Metadata); a server says nothing. */
function refuseWebPages(request: Request): void {
  const site = request.headers.get("sec-fetch-site")?.trim().toLowerCase();
  if (requestOrigin(request) || (site !== undefined && site !== "none")) {
    throw new ServiceError("origin_not_allowed", "this endpoint is for servers: a request from a web page is refused");
  }
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");

async function authenticateKey(request: Request, fields: TurnRestFields, keys: readonly string[]): Promise<Caller> {
  const key = presentedKey(request, fields);
  if (!(await matchesAny(key, keys))) throw unauthorized("the TURN REST API key is not valid", true);
  // Each key is a caller of its own, counted under a digest: the store never holds a key.
  return { allowance: `turn-rest:${hex(await digest(key)).slice(0, 32)}` };
}

/** The first credential the chain answered with, and every TURN URL that uses it: STUN needs none. */
function answerFrom(issued: Issued): TurnRestBody {
  const first = issued.iceServers.find((server) => server.username !== undefined && server.credential !== undefined);
  const uris = issued.iceServers
    .filter((server) => first && server.username === first.username && server.credential === first.credential)
    .flatMap((server) => server.urls)
    // As Janus tells them apart: by the scheme, as written.
    .filter((url) => url.startsWith("turn:") || url.startsWith("turns:"));
  if (!first || uris.length === 0) {
    throw new ServiceError("upstream_invalid_response", `${issued.provider} answered with no TURN URL and credential`);
  }
  return { username: first.username!, password: first.credential!, ttl: issued.ttl, uris };
}

/** GET or POST {basePath}/turn-rest. Answers 404 until TURN_REST_API_KEYS is set. */
export async function turnRest(context: ServerRequestContext): Promise<Response> {
  const { request, url, config } = context;
  if (config.turnRestKeys.length === 0) throw new ServiceError("not_found", "nothing is served here: TURN_REST_API_KEYS is not set");
  refuseWebPages(request);
  if (!METHODS.includes(request.method)) throw new ServiceError("method_not_allowed", "use GET or POST", { allow: METHODS.join(", ") });
  const fields = await readFields(request, url);
  const admitted = await admit(request, config, context.access, () => authenticateKey(request, fields, config.turnRestKeys));
  Object.assign(context.headers, admitted.headers);
  if (context.trace) context.trace.caller = "key";
  const asked = checkedRequest(fields, config.ttl);
  if (config.providers.length === 0) throw noProviderConfigured();
  const now = context.clock();
  const issued = await issueFromChain(
    { ...context, caller: admitted.caller, now },
    // The username names the credential, and Cloudflare's customIdentifier, as a verified user's sub would.
    { ttl: asked.ttl ?? config.ttl, now, identity: asked.username ?? crypto.randomUUID(), user: asked.username },
  );
  if (context.trace) context.trace.provider = issued.provider;
  return jsonResponse(200, answerFrom(issued));
}
