/**
 * LOG_FORMAT=json: one JSON line per request and one per operator event, asserted field by
 * field through the real entry points (the core's handle and `npm start`; the built Netlify
 * function is in artefacts.contract.test.ts). Every line goes through console, so the suite's
 * secret scan (test/setup/secret-scan.ts) reads them too; the tests also look for the TURN
 * credential they were handed, which no configured secret covers.
 */
import { request as httpRequest } from "node:http";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createService, type Service } from "../shared/service.ts";
import type { UpstreamInit } from "../shared/upstream/upstream.ts";
import { signHs256 } from "./helpers/jwt.ts";
import { startLocalServer } from "./helpers/process.ts";
import { secret } from "./helpers/secrets.ts";

const SHARED = secret("logging-shared-secret-Zq81Lm4Xp0Rt");
const BEARER = secret("logging-bearer-token-0123456789abcdefgh");
const JWT_SECRET = secret("logging-jwt-secret-0123456789abcdefghij");
const CF_TOKEN = secret("logging-cloudflare-api-token-Ww72");
const TURN_URLS = "turn:turn.example.com:3478?transport=udp";
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let lines: { level: string; text: string }[];
// Each test's own instance of the service: its configuration, and the operator events it logged.
let handle: Service["handle"];

beforeEach(() => {
  lines = [];
  handle = createService().handle;
  for (const level of ["info", "warn", "error"] as const) {
    // Through to the real console (and the secret scan's record of it).
    const original = console[level];
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      lines.push({ level, text: String(args[0]) });
      original(...args);
    });
  }
});
afterEach(() => vi.restoreAllMocks());

const parsed = () => lines.map((line) => ({ level: line.level, entry: JSON.parse(line.text) as Record<string, unknown> }));
const requests = () => parsed().filter((line) => line.entry.type === "request");
const operators = () => parsed().filter((line) => line.entry.type === "operator");

const get = (path = "/api/ice-servers", headers: Record<string, string> = {}) =>
  new Request(`http://localhost${path}`, { headers: { host: "localhost", ...headers } });

describe("LOG_FORMAT=json through the core's handle", () => {
  const env = { LOG_FORMAT: "json", TURN_SHARED_SECRET: SHARED, TURN_URLS };

  it("writes one request line with every field, on console.info, for a 200", async () => {
    const response = await handle(get(), env, { clientIp: "203.0.113.7" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { iceServers: { credential?: string; username?: string }[] };
    expect(lines).toHaveLength(1);
    const [{ level, entry }] = requests();
    expect(level).toBe("info");
    expect(Object.keys(entry).sort()).toEqual([
      "attempts",
      "caller",
      "client",
      "durationMs",
      "level",
      "method",
      "provider",
      "route",
      "status",
      "time",
      "tried",
      "type",
    ]);
    expect(entry).toEqual({
      time: expect.stringMatching(ISO_TIME),
      level: "info",
      type: "request",
      route: "issue",
      method: "GET",
      status: 200,
      provider: "shared-secret",
      tried: [{ provider: "shared-secret" }],
      attempts: 0,
      durationMs: expect.any(Number),
      caller: "anonymous",
      client: "203.0.113.7",
    });
    expect(entry.durationMs as number).toBeGreaterThanOrEqual(0);
    // The credential and its username are not logged.
    const { credential, username } = body.iceServers.find((server) => server.credential)!;
    expect(lines.some((line) => line.text.includes(credential!) || line.text.includes(username!))).toBe(false);
  });

  it("keeps no more of an IPv6 address than the /64 the rate limit counts", async () => {
    await handle(get(), env, { clientIp: "2001:db8:1:2:aaaa:bbbb:cccc:dddd" });
    expect(requests()[0].entry.client).toBe("2001:db8:1:2::/64");
    expect(lines[0].text).not.toContain("aaaa");
  });

  it("names the caller's kind: bearer, user, and anonymous for a refused token", async () => {
    const bearerEnv = { ...env, AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: BEARER };
    expect((await handle(get("/api/ice-servers", { authorization: `Bearer ${BEARER}` }), bearerEnv)).status).toBe(200);
    expect((await handle(get("/api/ice-servers", { authorization: "Bearer wrong-token-0123456789abcdefghijkl" }), bearerEnv)).status).toBe(
      401,
    );
    const jwtEnv = {
      ...env,
      AUTH_MODE: "jwt",
      AUTH_JWT_SECRET: JWT_SECRET,
      AUTH_JWT_ISSUER: "https://issuer.example",
      AUTH_JWT_AUDIENCE: "turn",
    };
    const token = await signHs256(JWT_SECRET, { iss: "https://issuer.example", aud: "turn", sub: "alice@example.com", exp: "5m" });
    expect((await handle(get("/api/ice-servers", { authorization: `Bearer ${token}` }), jwtEnv)).status).toBe(200);
    expect(requests().map(({ entry }) => [entry.caller, entry.status, entry.error])).toEqual([
      ["bearer", 200, undefined],
      ["anonymous", 401, "unauthorized"],
      ["user", 200, undefined],
    ]);
    // Neither the token nor who the user is.
    expect(lines.some((line) => line.text.includes(token) || line.text.includes("alice"))).toBe(false);
    // No client address given, none logged.
    expect(requests().every(({ entry }) => !("client" in entry))).toBe(true);
  });

  it("records a failover: each provider tried with its failure code, every upstream attempt, and an operator line per failure", async () => {
    let calls = 0;
    const fetch = async (_url: string, _init: UpstreamInit) => {
      calls++;
      return new Response(JSON.stringify({ error: "down" }), { status: 503, headers: { "content-type": "application/json" } });
    };
    const failoverEnv = {
      ...env,
      CLOUDFLARE_TURN_KEY_ID: "key-id",
      CLOUDFLARE_TURN_KEY_API_TOKEN: CF_TOKEN,
      TURN_PROVIDERS: "cloudflare,shared-secret",
    };
    // With the client's address: a request without one is also told about the shared allowance, once.
    const response = await handle(get(), failoverEnv, { fetch, random: () => 0, clientIp: "203.0.113.8" });
    expect(response.status).toBe(200);
    expect(calls).toBeGreaterThan(0);
    expect(operators()).toEqual([
      {
        level: "warn",
        entry: {
          time: expect.stringMatching(ISO_TIME),
          level: "warn",
          type: "operator",
          event: "provider_failed",
          provider: "cloudflare",
          error: "upstream_unavailable",
          message: "Cloudflare failed: upstream_unavailable",
        },
      },
    ]);
    const [{ entry }] = requests();
    expect(entry).toMatchObject({
      status: 200,
      provider: "shared-secret",
      tried: [{ provider: "cloudflare", error: "upstream_unavailable" }, { provider: "shared-secret" }],
      attempts: calls,
    });
    expect(lines.some((line) => line.text.includes(CF_TOKEN))).toBe(false);
  });

  it("logs a configuration error as an operator event naming the variable, and the 500 as an error line", async () => {
    const response = await handle(get(), { ...env, TURN_TTL: "forever" });
    expect(response.status).toBe(500);
    expect(parsed()).toEqual([
      {
        level: "error",
        entry: {
          time: expect.stringMatching(ISO_TIME),
          level: "error",
          type: "operator",
          event: "config_error",
          error: "invalid_config",
          message: expect.stringContaining("TURN_TTL must be a whole number"),
        },
      },
      {
        level: "error",
        entry: expect.objectContaining({
          type: "request",
          level: "error",
          route: "issue",
          status: 500,
          error: "invalid_config",
          tried: [],
          attempts: 0,
        }),
      },
    ]);
    // The same error on the next request: its request line, but the operator event only once a minute.
    lines = [];
    expect((await handle(get(), { ...env, TURN_TTL: "forever" })).status).toBe(500);
    expect(parsed().map(({ entry }) => entry.type)).toEqual(["request"]);
  });

  it("logs requests no route serves, with route none", async () => {
    expect((await handle(get("/elsewhere"), env)).status).toBe(404);
    expect(requests()[0].entry).toMatchObject({ route: "none", status: 404, error: "not_found", caller: "anonymous" });
  });
});

describe("LOG_FORMAT text (the default) and invalid values", () => {
  it("stays readable text: no request line, operator events as the sentence alone", async () => {
    const fetch = async () => new Response("{}", { status: 503 });
    const env = {
      TURN_SHARED_SECRET: SHARED,
      TURN_URLS,
      CLOUDFLARE_TURN_KEY_ID: "key-id",
      CLOUDFLARE_TURN_KEY_API_TOKEN: CF_TOKEN,
      TURN_PROVIDERS: "cloudflare,shared-secret",
    };
    expect((await handle(get(), env, { fetch, random: () => 0, clientIp: "203.0.113.9" })).status).toBe(200);
    expect(lines).toEqual([{ level: "warn", text: "Cloudflare failed: upstream_unavailable" }]);
  });

  it("an invalid LOG_FORMAT is a configuration error naming LOG_FORMAT, logged as text", async () => {
    const response = await handle(get(), { LOG_FORMAT: "yaml", TURN_SHARED_SECRET: SHARED, TURN_URLS });
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({
      error: { code: "invalid_config", message: expect.stringContaining("LOG_FORMAT must be text or json") },
    });
    expect(lines).toEqual([{ level: "error", text: "invalid_config: LOG_FORMAT must be text or json" }]);
  });
});

/** fetch sends the Host of its URL whatever it is told: node:http sends the one given. */
function statusWithHost(origin: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${origin}/api/ice-servers`, { headers: { host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on("error", reject);
    request.end();
  });
}

describe("LOG_FORMAT=json under npm start", () => {
  it("writes only JSON: start-up events, one line per request (its own refusals too), nothing secret", async () => {
    const { origin, server } = await startLocalServer({
      LOG_FORMAT: "json",
      TURN_SHARED_SECRET: SHARED,
      TURN_URLS,
      AUTH_MODE: "bearer",
      AUTH_BEARER_TOKENS: BEARER,
    });
    try {
      const ok = await fetch(`${origin}/api/ice-servers`, { headers: { authorization: `Bearer ${BEARER}` } });
      expect(ok.status).toBe(200);
      const { iceServers } = (await ok.json()) as { iceServers: { credential?: string }[] };
      // Refused by npm start itself, before the core: a Host it does not answer to.
      expect(await statusWithHost(origin, "evil.example")).toBe(421);
      const deadline = Date.now() + 5000;
      const entries = () =>
        server
          .output()
          .split("\n")
          .filter((line) => line.trim() !== "")
          .map((line) => JSON.parse(line) as Record<string, unknown>);
      while (
        entries().filter((entry) => entry.type === "request" && entry.route !== "issue" && entry.status === 421).length === 0 &&
        Date.now() < deadline
      ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const all = entries();
      expect(all.filter((entry) => entry.event === "listening")).toHaveLength(2);
      const request = all.filter((entry) => entry.type === "request");
      // The ready check (no token: 401), the 200, and the 421 npm start answers itself.
      expect(request.map((entry) => [entry.route, entry.status, entry.error ?? null, entry.caller])).toEqual([
        ["issue", 401, "unauthorized", "anonymous"],
        ["issue", 200, null, "bearer"],
        ["none", 421, "host_not_allowed", "anonymous"],
      ]);
      expect(request[1]).toEqual({
        time: expect.stringMatching(ISO_TIME),
        level: "info",
        type: "request",
        route: "issue",
        method: "GET",
        status: 200,
        provider: "shared-secret",
        tried: [{ provider: "shared-secret" }],
        attempts: 0,
        durationMs: expect.any(Number),
        caller: "bearer",
        client: "127.0.0.1",
      });
      const output = server.output();
      for (const value of [SHARED, BEARER, iceServers.find((entry) => entry.credential)!.credential!]) expect(output).not.toContain(value);
      // What npm start printed, through console here, so the suite-wide secret scan reads it too.
      console.info(output);
    } finally {
      await server.stop();
    }
  }, 60_000);
});
