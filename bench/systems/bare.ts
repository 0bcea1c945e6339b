/**
 * The floor: a function that answers a fixed body of the same shape and size as
 * ours, with no configuration, no input parsing and no upstream call.
 *
 * With Cloudflare's variables set (the bench's "bare-call" floor), it first makes the one call our
 * Cloudflare configuration makes, and nothing more: the same POST to the same endpoint, by
 * `node:http` as node/http-fetch.ts does, the body read whole, its servers answered. A configuration
 * whose first answer waits for a provider is held to this floor, since no code of ours can answer
 * sooner than the call itself (docs/performance.md).
 */
import http from "node:http";

const BODY = {
  iceServers: [
    {
      urls: [
        "stun:stun.example.com:3478",
        "turn:turn.example.com:3478?transport=udp",
        "turn:turn.example.com:3478?transport=tcp",
        "turn:turn.example.com:80?transport=tcp",
        "turns:turn.example.com:5349?transport=tcp",
        "turns:turn.example.com:443?transport=tcp",
      ],
      username: "u".repeat(96),
      credential: "c".repeat(96),
    },
  ],
  ttl: 86400,
  expiresAt: "2030-01-01T00:00:00.000Z",
  provider: "none",
};

const HEADERS = { "cache-control": "no-store" };

function callCloudflare(apiBase: string, keyId: string, apiToken: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const url = `${apiBase}/turn/keys/${keyId}/credentials/generate-ice-servers`;
    const headers = { authorization: `Bearer ${apiToken}`, "content-type": "application/json" };
    const request = http.request(url, { method: "POST", headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => {
        if (response.statusCode !== 201) return resolve(Response.json({ status: response.statusCode }, { status: 502 }));
        const { iceServers } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        resolve(Response.json({ ...BODY, iceServers, provider: "cloudflare" }, { headers: HEADERS }));
      });
    });
    request.on("error", reject);
    request.end(JSON.stringify({ ttl: BODY.ttl }));
  });
}

export default (_request: Request): Response | Promise<Response> => {
  const { CLOUDFLARE_TURN_API_BASE: apiBase, CLOUDFLARE_TURN_KEY_ID: keyId, CLOUDFLARE_TURN_KEY_API_TOKEN: apiToken } = process.env;
  if (apiBase && keyId && apiToken) return callCloudflare(apiBase, keyId, apiToken);
  return Response.json(BODY, { headers: HEADERS });
};
