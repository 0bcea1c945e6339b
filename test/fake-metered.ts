/**
 * A fake Metered TURN API, faithful to the documented paths and shapes:
 * POST /api/v1/turn/credential?secretKey=… creates a credential and answers
 * {username, password, expiryInSeconds, label, apiKey}; GET
 * /api/v1/turn/credentials?apiKey=…[&region=…] answers that credential's ICE
 * servers array; DELETE /api/v1/turn/credential?secretKey=… with {username}
 * removes one; GET /api/v1/turn/current_usage?secretKey=… answers {quotaInGB, usageInGB,
 * overageInGB} for the billing cycle, or 400 when the app has no plan
 * (https://www.metered.ca/docs/turn-rest-api/get-current-usage).
 */
import { randomBytes } from "node:crypto";
import { startFakeUpstream, type FakeReply, type FakeUpstream } from "./fake-upstream.ts";

export interface FakeMeteredOptions {
  secretKey: string;
  /** A long-lived credential whose apiKey the static mode uses. */
  staticApiKey?: string;
}

export interface MeteredCredential {
  username: string;
  password: string;
  expiryInSeconds?: number;
  label?: string;
  apiKey: string;
}

export interface FakeMetered extends FakeUpstream {
  /** Credentials created and not deleted, by username. */
  readonly credentials: Map<string, MeteredCredential>;
  /** What current_usage answers: the plan's quota and the cycle's usage, in GB; no plan answers 400. */
  usage: { quotaInGB: number; usageInGB: number } | "no plan";
}

/** Whether a recorded request is a usage read, for faults aimed at it alone. */
export const isMeteredUsageRead = (request: { path: string }) => request.path === "/api/v1/turn/current_usage";

const meteredError = (status: number, message: string): FakeReply => ({ status, body: { message } });

export function meteredIceServers(credential: MeteredCredential, region = "global"): unknown[] {
  // A region's own relay names (ca.relay.metered.ca for canada) are Metered's to choose; a host
  // name has no underscore, so north_america's is written north-america here.
  const host = `${region.replaceAll("_", "-")}.relay.metered.ca`;
  const auth = { username: credential.username, credential: credential.password };
  return [
    { urls: "stun:stun.relay.metered.ca:80" },
    { urls: `turn:${host}:80`, ...auth },
    { urls: `turn:${host}:80?transport=tcp`, ...auth },
    { urls: `turn:${host}:443`, ...auth },
    { urls: `turns:${host}:443?transport=tcp`, ...auth },
  ];
}

/** Metered's documented global URLs, STUN first, as its dashboard lists them. */
export const METERED_DOCUMENTED_GLOBAL_URLS = meteredIceServers({ username: "", password: "", apiKey: "" }).map(
  (server) => (server as { urls: string }).urls,
);

export async function startFakeMetered(options: FakeMeteredOptions): Promise<FakeMetered> {
  const credentials = new Map<string, MeteredCredential>();
  if (options.staticApiKey) {
    credentials.set("static-user", { username: "static-user", password: "static-pass", apiKey: options.staticApiKey });
  }

  const state: { usage: FakeMetered["usage"] } = { usage: { quotaInGB: 150, usageInGB: 0 } };
  const upstream = await startFakeUpstream({
    wrongShape: { message: "ok", data: null },
    route(request) {
      if (isMeteredUsageRead(request)) {
        if (request.method !== "GET") return meteredError(405, "Method not allowed");
        if (request.query.get("secretKey") !== options.secretKey) return meteredError(401, "Invalid secret key");
        if (state.usage === "no plan") return meteredError(400, "Invalid request. Not subscribed to any turn server plan");
        const { quotaInGB, usageInGB } = state.usage;
        return { status: 200, body: { quotaInGB, usageInGB, overageInGB: Math.max(0, usageInGB - quotaInGB) } };
      }
      if (request.path === "/api/v1/turn/credential") {
        // Metered echoes what it was given in some errors; a leak test relies on it.
        if (request.query.get("secretKey") !== options.secretKey) {
          return meteredError(401, `Invalid secretKey ${request.query.get("secretKey") ?? ""}`);
        }
        let body: Record<string, unknown> = {};
        try {
          body = request.body ? JSON.parse(request.body) : {};
        } catch {
          return meteredError(400, "Invalid JSON");
        }
        if (request.method === "POST") {
          const expiry = body.expiryInSeconds;
          if (expiry !== undefined && (typeof expiry !== "number" || !Number.isInteger(expiry) || expiry < 1)) {
            return meteredError(400, "expiryInSeconds must be a positive integer");
          }
          const credential: MeteredCredential = {
            username: randomBytes(12).toString("hex"),
            password: randomBytes(8).toString("base64url"),
            ...(expiry !== undefined ? { expiryInSeconds: expiry } : {}),
            ...(typeof body.label === "string" ? { label: body.label } : {}),
            apiKey: randomBytes(18).toString("hex"),
          };
          credentials.set(credential.username, credential);
          return { status: 200, body: credential };
        }
        if (request.method === "DELETE") {
          if (typeof body.username !== "string") return meteredError(400, "username is required");
          credentials.delete(body.username);
          return { status: 200, body: { message: "Credential deleted" } };
        }
        return meteredError(405, "Method not allowed");
      }
      if (request.path === "/api/v1/turn/credentials" && request.method === "GET") {
        const apiKey = request.query.get("apiKey");
        const credential = [...credentials.values()].find((candidate) => candidate.apiKey === apiKey);
        if (!credential) return meteredError(401, "Invalid API Key");
        return { status: 200, body: meteredIceServers(credential, request.query.get("region") ?? undefined) };
      }
      return meteredError(404, "Not found");
    },
  });

  return Object.defineProperties(Object.assign(upstream, { credentials }), {
    usage: { get: () => state.usage, set: (value) => (state.usage = value), enumerable: true },
  }) as FakeMetered;
}
