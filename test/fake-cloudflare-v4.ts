/**
 * A fake Cloudflare account API (v4 envelope) for TURN key management, plus the
 * TURN API's revoke endpoint, on 127.0.0.1. Keys live in memory; a key's `key`
 * is its secret, which also authenticates revoke calls, as on Cloudflare.
 *
 *   /client/v4/accounts/{account}/calls/turn_keys[/{uid}]   GET POST PUT DELETE
 *   /v1/turn/keys/{uid}/credentials/{username}/revoke        POST -> 204
 */
import { randomBytes } from "node:crypto";
import { startFakeUpstream, type Fault, type FakeReply, type FakeUpstream, type RecordedRequest } from "./fake-upstream.ts";

export interface FakeTurnKey {
  uid: string;
  name: string;
  created: string;
  modified: string;
  /** The secret; Cloudflare shows it only in the answer to create. */
  key: string;
}

export interface FakeCloudflareV4Options {
  accountId: string;
  /** The account API token the fake accepts. */
  apiToken: string;
  /** Keys present from the start. */
  keys?: FakeTurnKey[];
  /** Misbehave: return each key's secret from list and get too. */
  leakSecrets?: boolean;
}

export interface FakeCloudflareV4 extends FakeUpstream {
  /** Keys by uid. */
  readonly keys: Map<string, FakeTurnKey>;
  /** Usernames whose credentials were revoked, in order. */
  readonly revoked: string[];
}

interface CloudflareMessage {
  code: number;
  message: string;
}

const envelope = (status: number, result: unknown): FakeReply => ({
  status,
  body: { success: true, errors: [], messages: [], result },
});

const failure = (status: number, ...errors: CloudflareMessage[]): FakeReply => ({
  status,
  body: { success: false, errors, messages: [], result: null },
});

/** A fault that answers with Cloudflare's failure envelope, such as a 500. */
export function v4Failure(status: number, ...errors: CloudflareMessage[]): Fault {
  return { kind: "status", status, body: JSON.stringify(failure(status, ...errors).body) };
}

export const AUTHENTICATION_ERROR: CloudflareMessage = { code: 10000, message: "Authentication error" };

/** A key as Cloudflare's key ids and secrets look: 32 and 64 hex digits. */
export function fakeTurnKey(name: string, now = new Date()): FakeTurnKey {
  const stamp = now.toISOString();
  return { uid: randomBytes(16).toString("hex"), name, created: stamp, modified: stamp, key: randomBytes(32).toString("hex") };
}

function nameFrom(body: string): string | undefined {
  try {
    const name = (JSON.parse(body) as { name?: unknown } | null)?.name;
    return typeof name === "string" ? name : undefined;
  } catch {
    return undefined;
  }
}

export async function startFakeCloudflareV4(options: FakeCloudflareV4Options): Promise<FakeCloudflareV4> {
  const keys = new Map((options.keys ?? []).map((key) => [key.uid, { ...key }]));
  const revoked: string[] = [];
  const shown = ({ key, ...rest }: FakeTurnKey) => (options.leakSecrets ? { ...rest, key } : rest);

  function turnKeys(request: RecordedRequest, segments: string[]): FakeReply {
    if (request.headers.authorization !== `Bearer ${options.apiToken}`) return failure(401, AUTHENTICATION_ERROR);
    // ["accounts", account, "calls", "turn_keys", uid?]
    const [accounts, account, calls, turnKeysWord, uid, ...extra] = segments;
    if (accounts !== "accounts" || calls !== "calls" || turnKeysWord !== "turn_keys" || extra.length > 0) {
      return failure(404, { code: 7000, message: "No route for that URI" });
    }
    if (account !== options.accountId) return failure(403, { code: 9109, message: "Unauthorized to access requested resource" });

    if (uid === undefined) {
      if (request.method === "GET") return envelope(200, [...keys.values()].map(shown));
      if (request.method === "POST") {
        const name = nameFrom(request.body);
        if (name === undefined) return failure(400, { code: 1001, message: "name must be a string" });
        const key = fakeTurnKey(name);
        keys.set(key.uid, key);
        return envelope(201, key);
      }
      return failure(405, { code: 10405, message: "Method not allowed" });
    }

    const key = keys.get(uid);
    if (!key) return failure(404, { code: 1404, message: "TURN key not found" });
    if (request.method === "GET") return envelope(200, shown(key));
    if (request.method === "PUT") {
      const name = nameFrom(request.body);
      if (name === undefined) return failure(400, { code: 1001, message: "name must be a string" });
      key.name = name;
      key.modified = new Date().toISOString();
      return envelope(200, shown(key));
    }
    if (request.method === "DELETE") {
      keys.delete(uid);
      const { key: _secret, ...deleted } = key;
      return envelope(200, deleted);
    }
    return failure(405, { code: 10405, message: "Method not allowed" });
  }

  function revoke(request: RecordedRequest, segments: string[]): FakeReply {
    // ["turn", "keys", uid, "credentials", username, "revoke"]
    const [turn, keysWord, uid, credentials, username, action, ...extra] = segments;
    if (turn !== "turn" || keysWord !== "keys" || credentials !== "credentials" || action !== "revoke" || extra.length > 0) {
      return failure(404, { code: 7000, message: "No route for that URI" });
    }
    if (request.method !== "POST") return failure(405, { code: 10405, message: "Method not allowed" });
    const key = keys.get(uid);
    if (!key) return failure(404, { code: 1404, message: "TURN key not found" });
    if (request.headers.authorization !== `Bearer ${key.key}`) return failure(401, AUTHENTICATION_ERROR);
    revoked.push(username);
    return { status: 204 };
  }

  const upstream = await startFakeUpstream({
    wrongShape: { success: true, errors: [], messages: [], result: { nothing: "like a key" } },
    route(request) {
      let segments: string[];
      try {
        segments = request.path.split("/").slice(1).map(decodeURIComponent);
      } catch {
        return failure(400, { code: 7001, message: "Malformed URI" });
      }
      if (segments[0] === "client" && segments[1] === "v4") return turnKeys(request, segments.slice(2));
      if (segments[0] === "v1") return revoke(request, segments.slice(1));
      return failure(404, { code: 7000, message: "No route for that URI" });
    },
  });

  return Object.assign(upstream, { keys, revoked });
}
