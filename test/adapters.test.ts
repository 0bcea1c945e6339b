/**
 * Each adapter called in-process the way its platform calls it. The same
 * adapters also run the whole contract under the platforms' dev runtimes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import vercel from "../api/ice-servers.ts";
import netlify, { config as netlifyConfig } from "../functions/ice-servers.mts";
import { startFakeCloudflare, type FakeCloudflare } from "./fake-cloudflare.ts";
import { secret } from "./helpers/secrets.ts";

const TOKEN = secret("tok-adapter-Secret-77aa88bb99cc");
let fake: FakeCloudflare;
const saved = { ...process.env };

beforeAll(async () => {
  fake = await startFakeCloudflare({ keyId: "kid", apiToken: TOKEN });
  Object.assign(process.env, { CLOUDFLARE_TURN_KEY_ID: "kid", CLOUDFLARE_TURN_KEY_API_TOKEN: TOKEN, CLOUDFLARE_TURN_API_BASE: fake.apiBase });
});

afterAll(async () => {
  for (const name of ["CLOUDFLARE_TURN_KEY_ID", "CLOUDFLARE_TURN_KEY_API_TOKEN", "CLOUDFLARE_TURN_API_BASE"]) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  await fake.close();
});

describe("Netlify function adapter", () => {
  it("is routed at /api/ice-servers and its revoke path", () => {
    expect(netlifyConfig.path).toEqual(["/api/ice-servers", "/api/ice-servers/revoke"]);
  });

  it("declares Netlify's platform rate limit as the README says: 120 a minute per IP and domain", () => {
    expect(netlifyConfig.rateLimit).toEqual({ windowLimit: 120, windowSize: 60, aggregateBy: ["ip", "domain"] });
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
    const response = await vercel.fetch(new Request("https://app.vercel.app/api/ice-servers", { method: "POST", headers: { "content-type": "application/json" }, body: '{"ttl": 45}' }));
    expect(response.status).toBe(200);
    expect((await response.json()).ttl).toBe(45);
  });

  it("answers a wrong method with the core's JSON 405", async () => {
    const response = await vercel.fetch(new Request("https://app.vercel.app/api/ice-servers", { method: "PATCH" }));
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, POST, OPTIONS");
  });
});
