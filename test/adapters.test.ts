/**
 * Each adapter called in-process the way its platform calls it. The same
 * adapters also run the whole contract under the platforms' dev runtimes.
 */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import vercel from "../vercel/ice-servers.ts";
import netlify, { config as netlifyConfig } from "../functions/ice-servers.mts";
import worker from "../workers/ice-servers.ts";
import { ICE_SERVERS_PATH, REVOKE_PATH, TURN_REST_PATH } from "../shared/handle.ts";
import { startFakeCloudflare, type FakeCloudflare } from "./fake-cloudflare.ts";
import { useProcessEnv } from "./helpers/env.ts";
import { secret } from "./helpers/secrets.ts";

const TOKEN = secret("tok-adapter-Secret-77aa88bb99cc");
let fake: FakeCloudflare;
let restoreEnv: () => void;

beforeAll(async () => {
  fake = await startFakeCloudflare({ keyId: "kid", apiToken: TOKEN });
  restoreEnv = useProcessEnv({
    CLOUDFLARE_TURN_KEY_ID: "kid",
    CLOUDFLARE_TURN_KEY_API_TOKEN: TOKEN,
    CLOUDFLARE_TURN_API_BASE: fake.apiBase,
  });
});

afterAll(async () => {
  restoreEnv();
  await fake.close();
});

describe("Netlify function adapter", () => {
  // Netlify reads `config` statically at build time, so the function file must spell its paths
  // as literals; these checks hold those literals to the core's routes and to the docs.
  it("is routed at exactly the paths the core serves", () => {
    expect(netlifyConfig.path).toEqual([ICE_SERVERS_PATH, REVOKE_PATH, TURN_REST_PATH]);
  });

  it("netlify.toml's opt-in edge blocks name the same paths", () => {
    const toml = readFileSync(`${import.meta.dirname}/../netlify.toml`, "utf8");
    const edgePaths = [...toml.matchAll(/^#\s+path = "([^"]+)"/gm)].map((match) => match[1]);
    expect(edgePaths).toEqual([ICE_SERVERS_PATH, REVOKE_PATH, TURN_REST_PATH]);
  });

  it("declares the platform rate limit docs/security.md states", () => {
    const stated = /own rate limit in its `config` \((\d+) requests a minute\s+per IP and domain\)/.exec(
      readFileSync(`${import.meta.dirname}/../docs/security.md`, "utf8"),
    );
    expect(stated, "docs/security.md no longer states the Netlify rate limit").not.toBeNull();
    expect(netlifyConfig.rateLimit).toEqual({ windowLimit: Number(stated![1]), windowSize: 60, aggregateBy: ["ip", "domain"] });
  });

  it("serves credentials from process.env through the core", async () => {
    const response = await netlify(new Request("https://site.netlify.app/api/ice-servers?ttl=30"), { ip: "203.0.113.9" } as never);
    expect(response.status).toBe(200);
    expect((await response.json()).provider).toBe("cloudflare");
    expect(fake.requests.at(-1)?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });
});

describe("Vercel function adapter", () => {
  it("serves credentials through a web-standard fetch export", async () => {
    const response = await vercel.fetch(
      new Request("https://app.vercel.app/api/ice-servers", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"ttl": 45}',
      }),
    );
    expect(response.status).toBe(200);
    expect((await response.json()).ttl).toBe(45);
  });

  it("answers a wrong method with the core's JSON 405", async () => {
    const response = await vercel.fetch(new Request("https://app.vercel.app/api/ice-servers", { method: "PATCH" }));
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, POST, OPTIONS");
  });
});

describe("shared-secret credentials through the Node adapters", () => {
  const SHARED = secret("adapter-shared-secret-5d4c3b2a1908");
  const REVOKE = secret("adapter-revoke-secret-0123456789abcdef");

  it.each([
    ["Netlify", () => netlify(new Request("https://site.netlify.app/api/ice-servers"), { ip: "203.0.113.9" } as never)],
    ["Vercel", () => vercel.fetch(new Request("https://app.vercel.app/api/ice-servers", { headers: { "x-real-ip": "203.0.113.9" } }))],
  ])("%s: a credential coturn accepts, and a revoke token signed with REVOKE_SIGNING_SECRET", async (_, ask) => {
    const restore = useProcessEnv({
      CLOUDFLARE_TURN_KEY_ID: undefined,
      CLOUDFLARE_TURN_KEY_API_TOKEN: undefined,
      TURN_SHARED_SECRET: SHARED,
      TURN_URLS: "turn:turn.example.test:3478",
      REVOKE_SIGNING_SECRET: REVOKE,
    });
    try {
      const response = await ask();
      expect(response.status).toBe(200);
      const body = await response.json();
      const [{ username, credential }] = body.iceServers;
      expect(credential).toBe(createHmac("sha1", SHARED).update(username).digest("base64"));
      const [payload, signature] = body.revokeToken.split(".");
      expect(signature).toBe(createHmac("sha256", REVOKE).update(Buffer.from(payload, "base64url")).digest("base64url"));
    } finally {
      restore();
    }
  });
});

describe("Cloudflare Worker adapter", () => {
  it("counts a request without CF-Connecting-IP under the allowance all such requests share, never not at all", async () => {
    const bindings = {
      TURN_SHARED_SECRET: secret("adapter-worker-shared-secret-0123456789"),
      TURN_URLS: "turn:turn.example.test:3478",
      RATE_LIMIT: "2/60s",
    };
    const ctx = { waitUntil() {} };
    const statuses: number[] = [];
    for (let i = 1; i <= 3; i += 1) {
      const forged = `198.51.100.${i}`;
      const request = new Request("https://turn.example.workers.dev/api/ice-servers", { headers: { "x-forwarded-for": forged } });
      statuses.push((await worker.fetch(request, bindings, ctx)).status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    // Cloudflare's own header still counts each caller on its own.
    const named = new Request("https://turn.example.workers.dev/api/ice-servers", { headers: { "cf-connecting-ip": "203.0.113.70" } });
    expect((await worker.fetch(named, bindings, ctx)).status).toBe(200);
  });
});
