/**
 * The bench's floors (bench/systems/bare.ts): the bare function makes no upstream call, and with
 * Cloudflare's variables set makes exactly the one call ours makes, so that ours with Cloudflare is
 * held to that call and nothing more. A real HTTP server on loopback stands in for Cloudflare.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import bare from "../bench/systems/bare.ts";
import { secret } from "./helpers/secrets.ts";

const KEY_ID = "floor-key";
// Through secret(), as every secret a test configures: the suite-wide scan looks for it in what is logged.
const TOKEN = secret("bench-floor-api-token-5Rt7Yu9Io1Pa");
const ICE_SERVERS = [{ urls: ["turn:turn.cloudflare.com:3478?transport=udp"], username: "u", credential: "c" }];
const VARIABLES = ["CLOUDFLARE_TURN_API_BASE", "CLOUDFLARE_TURN_KEY_ID", "CLOUDFLARE_TURN_KEY_API_TOKEN"] as const;

const calls: { method?: string; url?: string; authorization?: string; body: string }[] = [];
const readBody = async (request: IncomingMessage) => {
  let body = "";
  for await (const chunk of request) body += chunk;
  return body;
};
const server = createServer(async (request, response) => {
  calls.push({ method: request.method, url: request.url, authorization: request.headers.authorization, body: await readBody(request) });
  response.writeHead(201, { "content-type": "application/json" });
  response.end(JSON.stringify({ iceServers: ICE_SERVERS }));
});

beforeAll(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)));
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
afterEach(() => {
  calls.length = 0;
  for (const name of VARIABLES) delete process.env[name];
});

describe("the bench's bare function", () => {
  it("answers its fixed body without calling anything", async () => {
    const response = await bare(new Request("http://127.0.0.1/api/ice-servers"));
    expect(response.status).toBe(200);
    expect((await response.json()).provider).toBe("none");
    expect(calls).toEqual([]);
  });

  it("with Cloudflare's variables, makes the one call ours makes and answers its servers", async () => {
    Object.assign(process.env, {
      CLOUDFLARE_TURN_API_BASE: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
      CLOUDFLARE_TURN_KEY_ID: KEY_ID,
      CLOUDFLARE_TURN_KEY_API_TOKEN: TOKEN,
    });
    const response = await bare(new Request("http://127.0.0.1/api/ice-servers"));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ iceServers: ICE_SERVERS, provider: "cloudflare" });
    expect(calls).toEqual([
      {
        method: "POST",
        url: `/v1/turn/keys/${KEY_ID}/credentials/generate-ice-servers`,
        authorization: `Bearer ${TOKEN}`,
        body: JSON.stringify({ ttl: 86400 }),
      },
    ]);
  });
});
