/**
 * A fake Xirsys TURN API, faithful to what Xirsys publishes:
 * - https://github.com/xirdev/docs-api (turn-service.md, README.md "The Shape of the Service
 *   API"): PUT /_turn/{channel path} with the account's ident and secret as HTTP Basic
 *   credentials; every answer is wrapped {"v": …, "s": "ok"}; without a format the servers
 *   are an array, each with one legacy `url`.
 * - Xirsys's dashboard snippet, as its users copy it: PUT with {"format": "urls"} (JSON) gets
 *   {"s": "ok", "v": {"iceServers": {"username", "urls": [stun…, turn…, turns…], "credential"}}},
 *   one object holding every URL.
 * - Xirsys's own sample SDK (github.com/xirsys/openai-realtime-xirsys-webrtc, src/sdk/xirsys.ts):
 *   the credential lifetime goes as ?expire=<seconds>, and a failure is {"s": "error", "v":
 *   "<reason>"}, which the SDK checks for even on a 2xx.
 * The docs list neither the error reasons nor the statuses that carry them: this fake refuses
 * bad credentials with 401 and an unknown channel with 200 {"s": "error"}, the two shapes a
 * client must handle; the reason strings are its own. Nor do the docs state a largest expire:
 * the fake takes any positive whole number.
 */
import { randomBytes } from "node:crypto";
import { basicCredentials, startFakeUpstream, type FakeReply, type FakeUpstream } from "./fake-upstream.ts";

export interface FakeXirsysOptions {
  ident: string;
  secret: string;
  /** The channel path that exists, such as "MyFirstApp". */
  channel: string;
}

export interface FakeXirsys extends FakeUpstream {
  /** The base to configure as XIRSYS_API_BASE. */
  readonly apiBase: string;
}

export const XIRSYS_SAMPLE_URLS = [
  "stun:fr-turn1.xirsys.com",
  "turn:fr-turn1.xirsys.com:80?transport=udp",
  "turn:fr-turn1.xirsys.com:3478?transport=udp",
  "turn:fr-turn1.xirsys.com:80?transport=tcp",
  "turn:fr-turn1.xirsys.com:3478?transport=tcp",
  "turns:fr-turn1.xirsys.com:443?transport=tcp",
  "turns:fr-turn1.xirsys.com:5349?transport=tcp",
];

export const xirsysError = (status: number, reason: string): FakeReply => ({ status, body: { s: "error", v: reason } });

export async function startFakeXirsys(options: FakeXirsysOptions): Promise<FakeXirsys> {
  const upstream = await startFakeUpstream({
    wrongShape: { s: "ok", v: { iceServers: [{ username: "u", credential: "c" }] } },
    route(request) {
      if (!request.path.startsWith("/_turn/")) return xirsysError(404, "not_found");
      const credentials = basicCredentials(request);
      if (!credentials || credentials[0] !== options.ident || credentials[1] !== options.secret) return xirsysError(401, "unauthorized");
      if (request.method !== "PUT") return xirsysError(405, "method_not_allowed");
      const channel = request.path.slice("/_turn/".length).split("/").map(decodeURIComponent).join("/");
      if (channel !== options.channel) return xirsysError(200, "path_not_found");
      const expire = request.query.get("expire");
      if (expire !== null && !/^[1-9]\d{0,8}$/.test(expire)) return xirsysError(200, "invalid_expire");
      let body: Record<string, unknown> = {};
      try {
        body = request.body ? JSON.parse(request.body) : {};
      } catch {
        return xirsysError(400, "invalid_json");
      }
      const username = randomBytes(30).toString("base64url");
      const credential = randomBytes(16).toString("hex");
      if (body.format === "urls") {
        return { status: 200, body: { s: "ok", v: { iceServers: { username, urls: XIRSYS_SAMPLE_URLS, credential } } } };
      }
      const legacy = XIRSYS_SAMPLE_URLS.map((url) => (url.startsWith("stun:") ? { url } : { username, url, credential }));
      return { status: 200, body: { v: { iceServers: legacy }, s: "ok" } };
    },
  });

  return Object.assign(upstream, { apiBase: upstream.origin });
}
