import { describe, expect, it } from "vitest";
import { createService } from "../../shared/service.ts";
import { compactIceServers } from "../../shared/ice-urls.ts";
import type { Fetch } from "../../shared/upstream/upstream.ts";
import { CLOUDFLARE_DOCUMENTED_URLS, cloudflareIceServers } from "../fake-cloudflare.ts";
import { METERED_DOCUMENTED_GLOBAL_URLS, meteredIceServers } from "../fake-metered.ts";

// This file's own instance of the service.
const { handle } = createService();

const allUrls = (servers: { urls: string[] }[]) => servers.flatMap((server) => server.urls);

// Each provider's real answer, as the fakes give it, through the whole handler.
async function served(env: Record<string, string>, fetch?: Fetch) {
  const response = await handle(new Request("https://site.example/api/ice-servers"), env, fetch ? { fetch } : {});
  expect(response.status).toBe(200);
  return (await response.json()).iceServers as { urls: string[]; username?: string; credential?: string }[];
}

const cloudflareFetch = async () =>
  Response.json({ iceServers: cloudflareIceServers(CLOUDFLARE_DOCUMENTED_URLS, { username: "u", credential: "c" }) }, { status: 201 });
const meteredFetch: Fetch = async (_url, init) =>
  init.method === "POST"
    ? Response.json({ username: "mu", password: "mp", apiKey: "k" })
    : Response.json(meteredIceServers({ username: "mu", password: "mp", apiKey: "k" }, "europe"));

const CLOUDFLARE_ENV = { CLOUDFLARE_TURN_KEY_ID: "k", CLOUDFLARE_TURN_KEY_API_TOKEN: "t" };
const METERED_ENV = { METERED_APP: "demo", METERED_SECRET_KEY: "s" };
const METERED_REGION_ENV = { ...METERED_ENV, METERED_REGION: "europe" };
const SHARED_ENV = {
  TURN_SHARED_SECRET: "compact-shared-secret-0123456789abcdef",
  TURN_URLS:
    "stun:t.example:3478,turn:t.example:3478?transport=udp,turn:t.example:3478?transport=tcp,turn:t.example:80?transport=tcp,turns:t.example:5349?transport=tcp,turns:t.example:443?transport=tcp",
};

describe("TURN_URL_SET", () => {
  it("is compact by default: at most four URLs, below the five at which Firefox warns that ICE slows down", async () => {
    for (const [env, fetch] of [
      [CLOUDFLARE_ENV, cloudflareFetch],
      [METERED_ENV, meteredFetch],
      [METERED_REGION_ENV, meteredFetch],
      [SHARED_ENV, undefined],
    ] as const) {
      const compact = await served({ ...env, TURN_URL_SET: "compact" }, fetch);
      expect(allUrls(await served(env, fetch))).toEqual(allUrls(compact));
      expect(allUrls(compact).length).toBeLessThanOrEqual(4);
    }
  });

  it("full keeps every usable URL of Cloudflare's answer (six after the port-53 filter)", async () => {
    expect(allUrls(await served({ ...CLOUDFLARE_ENV, TURN_URL_SET: "full" }, cloudflareFetch))).toHaveLength(6);
  });

  it("compact trims Cloudflare's answer to one URL per transport, preferring web ports for TCP and TLS", async () => {
    const servers = await served({ ...CLOUDFLARE_ENV, TURN_URL_SET: "compact" }, cloudflareFetch);
    expect(servers).toEqual([
      { urls: ["stun:stun.cloudflare.com:3478"] },
      {
        urls: [
          "turn:turn.cloudflare.com:3478?transport=udp",
          "turn:turn.cloudflare.com:80?transport=tcp",
          "turns:turn.cloudflare.com:443?transport=tcp",
        ],
        username: "u",
        credential: "c",
      },
    ]);
  });

  it("full keeps Metered's five documented URLs", async () => {
    expect(allUrls(await served({ ...METERED_ENV, TURN_URL_SET: "full" }, meteredFetch))).toEqual(METERED_DOCUMENTED_GLOBAL_URLS);
    expect(METERED_DOCUMENTED_GLOBAL_URLS).toHaveLength(5);
  });

  it("compact trims Metered's global URLs to four, keeping credentials with their URLs", async () => {
    const servers = await served({ ...METERED_ENV, TURN_URL_SET: "compact" }, meteredFetch);
    expect(servers).toEqual([
      { urls: ["stun:stun.relay.metered.ca:80"] },
      {
        urls: [
          "turn:global.relay.metered.ca:80",
          "turn:global.relay.metered.ca:80?transport=tcp",
          "turns:global.relay.metered.ca:443?transport=tcp",
        ],
        username: "mu",
        credential: "mp",
      },
    ]);
  });

  it("compact works across Metered's one-URL-per-server regional answer", async () => {
    const servers = await served({ ...METERED_REGION_ENV, TURN_URL_SET: "compact" }, meteredFetch);
    expect(allUrls(servers)).toEqual([
      "stun:stun.relay.metered.ca:80",
      "turn:europe.relay.metered.ca:80",
      "turn:europe.relay.metered.ca:80?transport=tcp",
      "turns:europe.relay.metered.ca:443?transport=tcp",
    ]);
    expect(servers.slice(1).every((server) => server.username === "mu" && server.credential === "mp")).toBe(true);
  });

  it("full and compact on the shared-secret URLs", async () => {
    expect(allUrls(await served({ ...SHARED_ENV, TURN_URL_SET: "full" }))).toHaveLength(6);
    expect(allUrls(await served({ ...SHARED_ENV, TURN_URL_SET: "compact" }))).toEqual([
      "stun:t.example:3478",
      "turn:t.example:3478?transport=udp",
      "turn:t.example:80?transport=tcp",
      "turns:t.example:443?transport=tcp",
    ]);
  });

  it("keeps fewer than four when fewer transports are present, and treats a bare turn: as UDP", () => {
    expect(compactIceServers([{ urls: ["turn:a.example", "turn:b.example:3478?transport=udp"] }])).toEqual([{ urls: ["turn:a.example"] }]);
  });
});
