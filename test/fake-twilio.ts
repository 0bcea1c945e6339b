/**
 * A fake Twilio Network Traversal Service, faithful to the documented API:
 * - https://www.twilio.com/docs/stun-turn/api ("REST API: Network Traversal Service Tokens"):
 *   POST /2010-04-01/Accounts/{AccountSid}/Tokens(.json), optional Ttl, "configurable up to 24
 *   hours (which is also the default value)"; GET is not supported.
 * - Twilio's OpenAPI description (operation CreateToken, as rendered at
 *   https://bump.sh/paul-gh/hub/twilio/doc/api/operation/operation-createtoken): HTTP Basic
 *   authentication, Content-Type application/x-www-form-urlencoded, answered 201
 *   application/json {account_sid, date_created, date_updated (RFC 2822), ice_servers, password,
 *   ttl (a string), username}, each ICE server {credential, url, urls (one string), username}.
 * - Twilio's REST errors are JSON {code, message, more_info, status} with the HTTP status;
 *   20003 is its authentication failure (401) and 20404 its "resource not found" (404). The
 *   other codes here (20001, 20004) are this fake's own, and so is answering a Ttl over the
 *   limit with 400: the Tokens page does not say how Twilio refuses one, and the chain never
 *   sends one.
 * - https://www.twilio.com/docs/usage/api/usage-record ("REST API: Usage Records"): GET
 *   /2010-04-01/Accounts/{AccountSid}/Usage/Records/ThisMonth.json?Category=turnmegabytes answers
 *   {usage_records: [{account_sid, api_version, as_of, category, count, count_unit, description,
 *   end_date, price, price_unit, start_date, subresource_uris, uri, usage, usage_unit}], first_page_uri,
 *   next_page_uri, page, page_size, previous_page_uri, uri}; usage is a string. The usage_unit
 *   "megabytes" is this fake's assumption: the page does not name turnmegabytes' unit.
 * Credentials are checked as Twilio does: the account SID with its auth token, or an API key
 * SID with its secret.
 */
import { randomBytes } from "node:crypto";
import { basicCredentials, startFakeUpstream, type FakeReply, type FakeUpstream, type RecordedRequest } from "./fake-upstream.ts";

export interface FakeTwilioOptions {
  accountSid: string;
  authToken: string;
  apiKeySid?: string;
  apiKeySecret?: string;
  /** The ttl Twilio answers with, when it grants other than what was asked; defaults to the one asked. */
  grant?: (asked: number) => number;
}

export interface FakeTwilio extends FakeUpstream {
  /** The base to configure as TWILIO_API_BASE. */
  readonly apiBase: string;
  /** TURN megabytes this month, as the usage record reports them. */
  usage: { megabytes: string; unit: string };
}

/** Whether a recorded request is a usage read, for faults aimed at it alone. */
export const isTwilioUsageRead = (request: { path: string }) => request.path.includes("/Usage/Records/");

/** The documented example's servers: STUN, then TURN over UDP, TCP and TCP on 443. */
export const TWILIO_DOCUMENTED_URLS = [
  "stun:global.stun.twilio.com:3478",
  "turn:global.turn.twilio.com:3478?transport=udp",
  "turn:global.turn.twilio.com:3478?transport=tcp",
  "turn:global.turn.twilio.com:443?transport=tcp",
];

export const TWILIO_MAX_TTL_DOCUMENTED = 86_400;

export const twilioError = (status: number, code: number, message: string): FakeReply => ({
  status,
  body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status },
});

/** The token's ice_servers as Twilio shapes them: one URL per server, in both `url` and `urls`. */
export function twilioIceServers(username: string, credential: string) {
  return TWILIO_DOCUMENTED_URLS.map((url) => (url.startsWith("stun:") ? { url, urls: url } : { url, urls: url, username, credential }));
}

/** RFC 2822, as Twilio dates its resources. */
const rfc2822 = (date: Date) => date.toUTCString().replace("GMT", "+0000");

export async function startFakeTwilio(options: FakeTwilioOptions): Promise<FakeTwilio> {
  const accepted = new Map<string, string>([[options.accountSid, options.authToken]]);
  if (options.apiKeySid && options.apiKeySecret) accepted.set(options.apiKeySid, options.apiKeySecret);

  const state = { usage: { megabytes: "0", unit: "megabytes" } };

  function usageRecords(request: RecordedRequest, sid: string): FakeReply {
    if (request.method !== "GET") return twilioError(405, 20004, "Method not allowed");
    const category = request.query.get("Category");
    const now = new Date();
    const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString().slice(0, 10);
    const end = now.toISOString().slice(0, 10);
    const uri = `/2010-04-01/Accounts/${sid}/Usage/Records/ThisMonth.json`;
    const record = {
      account_sid: sid,
      api_version: "2010-04-01",
      as_of: now.toISOString().replace(/\.\d{3}Z$/, "+00:00"),
      category: "turnmegabytes",
      count: "0",
      count_unit: "",
      description: "TURN Megabytes",
      end_date: end,
      price: "0",
      price_unit: "usd",
      start_date: start,
      subresource_uris: {},
      uri: `${uri}?Category=turnmegabytes&StartDate=${start}&EndDate=${end}`,
      usage: state.usage.megabytes,
      usage_unit: state.usage.unit,
    };
    const records = category === null || category === "turnmegabytes" ? [record] : [];
    return {
      status: 200,
      body: { usage_records: records, first_page_uri: uri, next_page_uri: null, page: 0, page_size: 50, previous_page_uri: null, uri },
    };
  }

  const upstream = await startFakeUpstream({
    wrongShape: { account_sid: options.accountSid, ttl: "86400", ice_servers: [{ username: "u", credential: "c" }] },
    route(request) {
      const usage = /^\/2010-04-01\/Accounts\/([^/]+)\/Usage\/Records\/ThisMonth\.json$/.exec(request.path);
      if (usage) {
        const credentials = basicCredentials(request);
        if (!credentials || accepted.get(credentials[0]) !== credentials[1]) return twilioError(401, 20003, "Authenticate");
        if (decodeURIComponent(usage[1]) !== options.accountSid) return twilioError(404, 20404, "The requested resource was not found");
        return usageRecords(request, options.accountSid);
      }
      const match = /^\/2010-04-01\/Accounts\/([^/]+)\/Tokens(\.json)?$/.exec(request.path);
      if (!match) return twilioError(404, 20404, "The requested resource was not found");
      const credentials = basicCredentials(request);
      if (!credentials || accepted.get(credentials[0]) !== credentials[1]) return twilioError(401, 20003, "Authenticate");
      if (decodeURIComponent(match[1]) !== options.accountSid)
        return twilioError(404, 20404, `The requested resource ${request.path} was not found`);
      if (request.method !== "POST") return twilioError(405, 20004, "Method not allowed");
      if (!(request.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
        return twilioError(400, 20001, "Parameters must be form-encoded");
      }
      const form = new URLSearchParams(request.body);
      const ttlText = form.get("Ttl") ?? String(TWILIO_MAX_TTL_DOCUMENTED);
      const asked = /^\d{1,9}$/.test(ttlText) ? Number(ttlText) : NaN;
      if (!(asked >= 1 && asked <= TWILIO_MAX_TTL_DOCUMENTED)) return twilioError(400, 20001, "Ttl must be between 1 and 86400");
      const ttl = options.grant ? options.grant(asked) : asked;
      const username = randomBytes(32).toString("hex");
      const password = randomBytes(24).toString("base64");
      const now = rfc2822(new Date());
      return {
        status: 201,
        body: {
          account_sid: options.accountSid,
          date_created: now,
          date_updated: now,
          username,
          password,
          ttl: String(ttl),
          ice_servers: twilioIceServers(username, password),
        },
      };
    },
  });

  return Object.defineProperties(Object.assign(upstream, { apiBase: upstream.origin }), {
    usage: { get: () => state.usage, set: (value) => (state.usage = value), enumerable: true },
  }) as FakeTwilio;
}
