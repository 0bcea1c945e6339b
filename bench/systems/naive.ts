/**
 * The baseline: what a user would otherwise write, after the usual snippet
 * (`fetchTURNServers`): one fetch to Cloudflare's older /credentials/generate,
 * `response.json()`, port 53 dropped by a substring test, no timeout, no retry,
 * no input checks. Re-typed here, pointed at an API base taken from the
 * environment so that it can talk to the fake.
 */

interface CloudflareTurnConfig {
  apiBase: string;
  keyId: string;
  keySecret: string;
  ttl?: number;
}

interface IceServerLike {
  urls: string | string[];
  username?: string;
  credential?: string;
  credentialType?: "password";
}

function looksLikeIceServer(value: unknown): value is IceServerLike {
  if (!value || typeof value !== "object") return false;
  const server = value as Record<string, unknown>;
  if (typeof server.urls !== "string" && !Array.isArray(server.urls)) return false;
  if (server.username && typeof server.username !== "string") return false;
  if (server.credential && typeof server.credential !== "string") return false;
  return true;
}

async function fetchTurnServers(config: CloudflareTurnConfig): Promise<IceServerLike[]> {
  const ttl = config.ttl ?? 3600;
  if (ttl > 172_800) throw new Error("TTL cannot exceed 172800 seconds (48 hours)");
  const response = await fetch(`${config.apiBase}/turn/keys/${config.keyId}/credentials/generate`, {
    method: "POST",
    headers: { Authorization: `Bearer ${config.keySecret}`, "Content-Type": "application/json" },
    body: JSON.stringify({ ttl }),
  });
  if (!response.ok) throw new Error(`TURN credential generation failed: ${response.status}`);
  const data = await response.json();
  // The snippet's filter: it also drops :5349, which merely starts with 53.
  const urls = (data.iceServers.urls as string[]).filter((url) => !url.includes(":53"));
  const iceServers: IceServerLike[] = [
    { urls: "stun:stun.cloudflare.com:3478" },
    { urls, username: data.iceServers.username, credential: data.iceServers.credential, credentialType: "password" },
  ];
  if (!iceServers.every(looksLikeIceServer)) throw new Error("Invalid ICE server configuration received");
  return iceServers;
}

export default async (_request: Request): Promise<Response> => {
  try {
    const iceServers = await fetchTurnServers({
      apiBase: process.env.CLOUDFLARE_TURN_API_BASE ?? "https://rtc.live.cloudflare.com/v1",
      keyId: process.env.CLOUDFLARE_TURN_KEY_ID ?? "",
      keySecret: process.env.CLOUDFLARE_TURN_KEY_API_TOKEN ?? "",
    });
    return Response.json({ iceServers });
  } catch (error) {
    return Response.json({ error: (error as Error).message }, { status: 500 });
  }
};
