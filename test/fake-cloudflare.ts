/**
 * A fake Cloudflare Realtime TURN API, faithful to the documented paths and shapes:
 * POST /v1/turn/keys/{keyId}/credentials/generate-ice-servers answers 201 with an
 * iceServers array; the older /credentials/generate answers with a single object.
 */
import { randomBytes } from "node:crypto";
import { startFakeUpstream, type FakeReply, type FakeUpstream, type RecordedRequest } from "./fake-upstream.ts";

export interface FakeCloudflareOptions {
  keyId: string;
  apiToken: string;
  /** How a credential is minted; defaults to random hex as Cloudflare's look. */
  mint?: (ttl: number) => { username: string; credential: string };
  /** The URLs put in the answer; defaults to the eight Cloudflare documents. */
  urls?: string[];
}

export interface FakeCloudflare extends FakeUpstream {
  /** The base to configure as CLOUDFLARE_TURN_API_BASE. */
  readonly apiBase: string;
  /** Usernames revoked through the API. */
  readonly revoked: Set<string>;
}

// The URLs of the documented answer, with the port-53 alternates the docs warn browsers block.
export const CLOUDFLARE_DOCUMENTED_URLS = [
  "stun:stun.cloudflare.com:3478",
  "stun:stun.cloudflare.com:53",
  "turn:turn.cloudflare.com:3478?transport=udp",
  "turn:turn.cloudflare.com:53?transport=udp",
  "turn:turn.cloudflare.com:3478?transport=tcp",
  "turn:turn.cloudflare.com:80?transport=tcp",
  "turns:turn.cloudflare.com:5349?transport=tcp",
  "turns:turn.cloudflare.com:443?transport=tcp",
];

/** The documented generate-ice-servers answer: STUN URLs alone, then TURN URLs with the credential. */
export function cloudflareIceServers(urls: string[], credential: { username: string; credential: string }) {
  const stun = urls.filter((url) => url.startsWith("stun"));
  const turn = urls.filter((url) => url.startsWith("turn"));
  return [...(stun.length ? [{ urls: stun }] : []), ...(turn.length ? [{ urls: turn, ...credential }] : [])];
}

const randomMint = () => ({ username: randomBytes(48).toString("hex"), credential: randomBytes(48).toString("hex") });

const cloudflareError = (status: number, message: string): FakeReply => ({
  status,
  body: { success: false, errors: [{ code: status, message }] },
});

export async function startFakeCloudflare(options: FakeCloudflareOptions): Promise<FakeCloudflare> {
  const mint = options.mint ?? randomMint;
  const urls = options.urls ?? CLOUDFLARE_DOCUMENTED_URLS;
  const revoked = new Set<string>();

  function authorized(request: RecordedRequest, keyId: string): FakeReply | undefined {
    if (keyId !== options.keyId) return cloudflareError(404, "TURN key not found");
    if (request.headers.authorization !== `Bearer ${options.apiToken}`) return cloudflareError(401, "Unauthorized");
    return undefined;
  }

  function generate(request: RecordedRequest, keyId: string, shape: "array" | "object"): FakeReply {
    const refused = authorized(request, keyId);
    if (refused) return refused;
    let ttl: unknown;
    try {
      ttl = JSON.parse(request.body).ttl;
    } catch {
      return cloudflareError(400, "Invalid JSON body");
    }
    if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 1 || ttl > 172_800) {
      return cloudflareError(400, "ttl must be an integer between 1 and 172800");
    }
    const credential = mint(ttl);
    // The older /credentials/generate answered one object holding every URL.
    const iceServers = shape === "array" ? cloudflareIceServers(urls, credential) : { urls, ...credential };
    return { status: 201, body: { iceServers } };
  }

  const upstream = await startFakeUpstream({
    wrongShape: { iceServers: [{ username: "u", credential: "c" }] },
    route(request) {
      if (request.method !== "POST") return cloudflareError(405, "Method not allowed");
      const segments = request.path.split("/").map(decodeURIComponent);
      // ["", "v1", "turn", "keys", keyId, "credentials", ...rest]
      if (segments[1] !== "v1" || segments[2] !== "turn" || segments[3] !== "keys" || segments[5] !== "credentials") {
        return cloudflareError(404, "Not found");
      }
      const keyId = segments[4];
      const rest = segments.slice(6);
      if (rest.length === 1 && rest[0] === "generate-ice-servers") return generate(request, keyId, "array");
      if (rest.length === 1 && rest[0] === "generate") return generate(request, keyId, "object");
      if (rest.length === 2 && rest[1] === "revoke") {
        const refused = authorized(request, keyId);
        if (refused) return refused;
        revoked.add(rest[0]);
        return { status: 204 };
      }
      return cloudflareError(404, "Not found");
    },
  });

  return Object.assign(upstream, { apiBase: `${upstream.origin}/v1`, revoked });
}
