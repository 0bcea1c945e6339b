import * as v from "valibot";
import { ServiceError } from "../errors.ts";

export const MAX_BODY_BYTES = 4096;

export interface IssueInput {
  /** Requested lifetime in seconds; undefined means the configured default. */
  ttl?: number;
}

const TtlNumber = v.pipe(v.number(), v.integer(), v.minValue(1));
const TtlQuery = v.pipe(v.string(), v.regex(/^\d{1,9}$/), v.transform(Number), TtlNumber);
const BodySchema = v.strictObject({ ttl: v.optional(TtlNumber) });

function checkedTtl(ttl: number | undefined, maxTtl: number): IssueInput {
  if (ttl === undefined) return {};
  // Never clamped: a caller that asks for more than allowed is told so.
  if (ttl > maxTtl) throw invalidTtl(maxTtl);
  return { ttl };
}

const invalidTtl = (maxTtl: number) => new ServiceError("invalid_ttl", `ttl must be a whole number of seconds from 1 to ${maxTtl}`);

/** A ttl given as text (a query or a form field): whole seconds from 1 to `maxTtl`, or 400 invalid_ttl. */
export function ttlFromText(text: string, maxTtl: number): number {
  const result = v.safeParse(TtlQuery, text);
  if (!result.success) throw invalidTtl(maxTtl);
  return checkedTtl(result.output, maxTtl).ttl!;
}

function fromQuery(url: URL, maxTtl: number): IssueInput {
  // Most callers send none: then Node's URLSearchParams is never built, about 0.2 ms of a cold start.
  if (url.search === "") return {};
  for (const name of url.searchParams.keys()) {
    if (name !== "ttl") throw new ServiceError("invalid_request", `unknown query parameter: only "ttl" is accepted`);
  }
  const values = url.searchParams.getAll("ttl");
  if (values.length === 0) return {};
  if (values.length > 1) throw new ServiceError("invalid_ttl", "ttl is given more than once");
  return { ttl: ttlFromText(values[0], maxTtl) };
}

/** Reads at most MAX_BODY_BYTES, whatever Content-Length claims, so a huge body costs nothing. */
export async function readCappedBody(request: Request): Promise<string> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > MAX_BODY_BYTES) {
    throw new ServiceError("payload_too_large", `the body must be at most ${MAX_BODY_BYTES} bytes`);
  }
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw new ServiceError("payload_too_large", `the body must be at most ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ServiceError("invalid_json", "the body is not valid UTF-8");
  }
}

function isJsonType(contentType: string | null): boolean {
  const essence = contentType?.split(";")[0].trim().toLowerCase() ?? "";
  return essence === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(essence);
}

/** The body as a JSON object, undefined when there is no body; throws the 4xx that fits otherwise. */
async function jsonObjectBody(request: Request, example: string): Promise<Record<string, unknown> | undefined> {
  const text = await readCappedBody(request);
  if (text.trim().length === 0) return undefined;
  if (!isJsonType(request.headers.get("content-type"))) {
    throw new ServiceError("unsupported_media_type", "send the body as application/json");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ServiceError("invalid_json", "the body is not valid JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ServiceError("invalid_request", `the body must be a JSON object such as ${example}`);
  }
  return json as Record<string, unknown>;
}

async function fromBody(request: Request, maxTtl: number): Promise<IssueInput> {
  const json = await jsonObjectBody(request, '{"ttl": 3600}');
  // A body-less POST asks for the defaults, whatever its Content-Type says.
  if (json === undefined) return {};
  const result = v.safeParse(BodySchema, json);
  if (!result.success) {
    if (result.issues[0].path?.[0]?.key === "ttl") throw invalidTtl(maxTtl);
    throw new ServiceError("invalid_request", 'unknown field in the body: only "ttl" is accepted');
  }
  return checkedTtl(result.output.ttl, maxTtl);
}

/** Turns a GET query or a POST JSON body into typed input, or throws a 4xx ServiceError. */
export async function parseIssueInput(request: Request, url: URL, maxTtl: number): Promise<IssueInput> {
  if (request.method === "POST") {
    if (url.search !== "") throw new ServiceError("invalid_request", "a POST takes its input in the JSON body, not the query");
    return fromBody(request, maxTtl);
  }
  return fromQuery(url, maxTtl);
}

const RevokeSchema = v.strictObject({ revokeToken: v.pipe(v.string(), v.minLength(1)) });

/** The revoke endpoint's only input: {"revokeToken": "…"} as JSON. */
export async function parseRevokeInput(request: Request, url: URL): Promise<{ revokeToken: string }> {
  if (url.search !== "") throw new ServiceError("invalid_request", "the revoke endpoint takes no query");
  const json = await jsonObjectBody(request, '{"revokeToken": "…"}');
  const result = v.safeParse(RevokeSchema, json ?? {});
  if (!result.success) throw new ServiceError("invalid_request", 'the body must be {"revokeToken": "<the token from /api/ice-servers>"}');
  return result.output;
}
