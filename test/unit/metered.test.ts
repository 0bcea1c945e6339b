import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../shared/config.ts";
import { createService } from "../../shared/service.ts";
import { prepareMeteredCredential, prepareMeteredIceServers } from "../../shared/providers/metered.ts";
import type { CallerLocation } from "../../shared/routing/location.ts";
import { METERED_DOCUMENTED_GLOBAL_URLS, startFakeMetered, type FakeMetered } from "../fake-metered.ts";
import { captureLog } from "../helpers/log.ts";
import { secret } from "../helpers/secrets.ts";
import { thrownBy } from "../helpers/service-error.ts";

// This file's own instance of the service.
const { handle } = createService();

const SECRET = secret("metered-unit-secret-Hy6Tg8Rf");
const STATIC_KEY = "metered-unit-static-Bn3Mk5";
let fake: FakeMetered;

beforeAll(async () => {
  fake = await startFakeMetered({ secretKey: SECRET, staticApiKey: STATIC_KEY });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

async function ask(env: Record<string, string>, path = "/api/ice-servers?ttl=900", location?: CallerLocation) {
  const log = captureLog();
  const { lines } = log;
  const response = await handle(new Request(`https://site.example${path}`), env, { log, location });
  const text = await response.text();
  return { response, text, body: JSON.parse(text), lines };
}

describe("Metered configuration", () => {
  it.each([
    ["demo", "https://demo.metered.live"],
    ["Demo.metered.live", "https://demo.metered.live"],
    ["https://demo.metered.live/", "https://demo.metered.live"],
    ["http://127.0.0.1:4000", "http://127.0.0.1:4000"],
  ])("reads METERED_APP=%s as %s", (app, origin) => {
    const config = parseConfig({ METERED_APP: app, METERED_SECRET_KEY: SECRET });
    expect(config.providers[0].config).toMatchObject({ origin });
  });

  it.each([
    [{ METERED_SECRET_KEY: SECRET }, "METERED_APP is not set"],
    [{ METERED_APP: "demo" }, "neither METERED_SECRET_KEY nor METERED_API_KEY"],
    [{ METERED_APP: "bad app!", METERED_SECRET_KEY: SECRET }, "METERED_APP must be"],
    [{ METERED_APP: "demo", METERED_SECRET_KEY: SECRET, METERED_REGION: "eu/../x" }, "METERED_REGION must be"],
  ])("refuses %j, naming the variable, never the key", (env, message) => {
    const error = thrownBy(() => parseConfig(env));
    expect(error.message).toContain(message);
    expect(error.message).not.toContain(SECRET);
  });
});

describe("Metered requests", () => {
  const config = { origin: "https://demo.metered.live", secretKey: "k&y=1", region: "europe" };

  it("creates a credential with an expiry and a label, the secret key query-encoded", async () => {
    const request = prepareMeteredCredential(config, 900, "user-1");
    expect(request.method).toBe("POST");
    expect(request.url).toBe("https://demo.metered.live/api/v1/turn/credential?secretKey=k%26y%3D1");
    expect(JSON.parse(request.body!)).toEqual({ expiryInSeconds: 900, label: "user-1" });
  });

  it("fetches a credential's ICE servers with its apiKey, pinned to a region", () => {
    const request = prepareMeteredIceServers(config, "api key", config.region);
    expect(request.method).toBe("GET");
    expect(request.url).toBe("https://demo.metered.live/api/v1/turn/credentials?apiKey=api+key&region=europe");
  });
});

describe("Metered provider against the fake Metered API", () => {
  it("creates an expiring credential (one call) and serves Metered's documented global URLs", async () => {
    const { response, body } = await ask({ METERED_APP: fake.origin, METERED_SECRET_KEY: SECRET, TURN_URL_SET: "full" });
    expect(response.status).toBe(200);
    expect(body.provider).toBe("metered");
    expect(fake.requests).toHaveLength(1);
    const sent = JSON.parse(fake.requests[0].body);
    expect(sent.expiryInSeconds).toBe(900);
    expect(sent.label).toMatch(/^[0-9a-f-]{36}$/);
    const created = fake.credentials.get(body.iceServers[1].username)!;
    expect(created.expiryInSeconds).toBe(900);
    expect(body.iceServers).toEqual([
      { urls: METERED_DOCUMENTED_GLOBAL_URLS.slice(0, 1) },
      { urls: METERED_DOCUMENTED_GLOBAL_URLS.slice(1), username: created.username, credential: created.password },
    ]);
  });

  it("with a region, fetches the pinned ICE servers with the new credential's apiKey (two calls)", async () => {
    const { body } = await ask({ METERED_APP: fake.origin, METERED_SECRET_KEY: SECRET, METERED_REGION: "europe" });
    expect(body.provider).toBe("metered");
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["POST /api/v1/turn/credential", "GET /api/v1/turn/credentials"]);
    expect(fake.requests[1].query.get("region")).toBe("europe");
    expect(body.iceServers.flatMap((s: { urls: string[] }) => s.urls)).toContain("turns:europe.relay.metered.ca:443?transport=tcp");
  });

  it("in the static mode, serves the ICE servers of METERED_API_KEY", async () => {
    const { body } = await ask({ METERED_APP: fake.origin, METERED_API_KEY: STATIC_KEY });
    expect(body.provider).toBe("metered");
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0].method).toBe("GET");
    expect(body.iceServers[1]).toEqual({ urls: ["turn:global.relay.metered.ca:80"], username: "static-user", credential: "static-pass" });
  });

  it("never shows the secret key, though it travels in the query and Metered echoes it", async () => {
    const { response, text, lines } = await ask({ METERED_APP: fake.origin, METERED_SECRET_KEY: `${SECRET}-wrong` });
    expect(response.status).toBe(502);
    expect(JSON.parse(text).error.code).toBe("upstream_unauthorized");
    expect(lines.some((line) => line.startsWith("OPERATOR: Metered refused"))).toBe(true);
    for (const output of [text, ...lines, ...[...response.headers.values()]]) expect(output).not.toContain(SECRET);
  });
});

describe("METERED_REGION=auto: the region of the caller's continent", () => {
  const env = () => ({ METERED_APP: fake.origin, METERED_SECRET_KEY: SECRET, METERED_REGION: "auto", TURN_URL_SET: "full" });
  const hosts = (body: { iceServers: { urls: string[] }[] }) => [
    ...new Set(body.iceServers.flatMap((server) => server.urls.map((url) => url.replace(/^[a-z]+:([^:?]+).*$/, "$1")))),
  ];

  it.each([
    ["DE", "europe"],
    ["JP", "asia"],
    ["US", "north_america"],
    ["AU", "oceania"],
  ])("a caller in %s is pinned to %s (the credential, then its ICE servers for the region)", async (country, region) => {
    const { response, body } = await ask(env(), undefined, { country });
    expect(response.status).toBe(200);
    expect(fake.requests.map((request) => request.method)).toEqual(["POST", "GET"]);
    expect(fake.requests[1].query.get("region")).toBe(region);
    expect(hosts(body)).toEqual(["stun.relay.metered.ca", `${region.replace("_", "-")}.relay.metered.ca`]);
  });

  it.each([
    ["in Brazil (Metered has no South American region)", { country: "BR" }],
    ["of unknown place", undefined],
  ])("a caller %s gets Metered's global relays, in one call", async (_, location) => {
    const { response, body } = await ask(env(), undefined, location);
    expect(response.status).toBe(200);
    expect(fake.requests).toHaveLength(1);
    expect(hosts(body)).toEqual(["stun.relay.metered.ca", "global.relay.metered.ca"]);
  });

  it("in the static mode too (METERED_API_KEY), the one call names the caller's region", async () => {
    const { response } = await ask({ METERED_APP: fake.origin, METERED_API_KEY: STATIC_KEY, METERED_REGION: "Auto" }, undefined, {
      country: "FR",
    });
    expect(response.status).toBe(200);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0].query.get("region")).toBe("europe");
  });
});
