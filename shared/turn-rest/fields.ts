/**
 * The request of draft-uberti-behave-turn-rest-00 §2.1 as its consumers send it: the fields in
 * the query of a GET, and in the query or a form body of a POST. Janus 1.1.2 puts the same fields
 * in both the query and the body of its POST, and its key in both `api` and `key`.
 */
import { bearerToken, unauthorized } from "../access/auth.ts";
import { ServiceError } from "../errors.ts";
import { readCappedBody, ttlFromText } from "../http/input.ts";

const FIELDS = ["service", "username", "key", "api", "ttl"] as const;
type Field = (typeof FIELDS)[number];
export type TurnRestFields = Partial<Record<Field, string>>;

const FORM = "application/x-www-form-urlencoded";
// The credential's identity, a TURN username's part and Cloudflare's customIdentifier: kept to
// what every one of them takes as it is.
const USERNAME = /^[\x20-\x7e]{1,128}$/;

const isField = (name: string): name is Field => (FIELDS as readonly string[]).includes(name);

async function formBody(request: Request): Promise<URLSearchParams | undefined> {
  let text: string;
  try {
    text = await readCappedBody(request);
  } catch (error) {
    // The reader speaks of JSON, the one body it is otherwise used for.
    if (error instanceof ServiceError && error.code === "invalid_json") throw new ServiceError("invalid_request", error.message);
    throw error;
  }
  if (text.trim() === "") return undefined;
  const essence = request.headers.get("content-type")?.split(";")[0].trim().toLowerCase();
  if (essence !== FORM) throw new ServiceError("unsupported_media_type", `send the fields as ${FORM}, or in the query`);
  return new URLSearchParams(text);
}

/** Every field given, from the query and a POST's form body; one given twice must say the same both times. */
export async function readFields(request: Request, url: URL): Promise<TurnRestFields> {
  const sources = [url.searchParams];
  if (request.method === "POST") {
    const body = await formBody(request);
    if (body) sources.push(body);
  }
  const fields: TurnRestFields = {};
  for (const params of sources) {
    for (const [name, value] of params) {
      if (!isField(name)) throw new ServiceError("invalid_request", `unknown field: only ${FIELDS.join(", ")} are accepted`);
      const earlier = fields[name];
      if (earlier !== undefined && earlier !== value) {
        throw new ServiceError(name === "ttl" ? "invalid_ttl" : "invalid_request", `${name} is given twice, with different values`);
      }
      fields[name] = value;
    }
  }
  return fields;
}

/** The API key as `key`, `api` or `Authorization: Bearer`: where it is given more than once, the same each time. */
export function presentedKey(request: Request, fields: TurnRestFields): string {
  const given = [fields.key, fields.api, bearerToken(request)].filter((key) => key !== undefined);
  if (given.length === 0) throw unauthorized("this endpoint needs a TURN REST API key: key=…, api=… or Authorization: Bearer …", false);
  if (given.some((key) => key !== given[0])) throw unauthorized("the API key is given more than once, with different values", true);
  return given[0];
}

export interface TurnRestRequest {
  username?: string;
  ttl?: number;
}

/** The fields besides the key, checked: `service=turn`, a username TURN servers take, a ttl up to `maxTtl`. */
export function checkedRequest(fields: TurnRestFields, maxTtl: number): TurnRestRequest {
  if (fields.service !== "turn") throw new ServiceError("invalid_request", 'service must be "turn"');
  const { username } = fields;
  if (username !== undefined && !USERNAME.test(username)) {
    throw new ServiceError("invalid_request", "username must be 1 to 128 printable ASCII characters");
  }
  return { username, ttl: fields.ttl === undefined ? undefined : ttlFromText(fields.ttl, maxTtl) };
}
