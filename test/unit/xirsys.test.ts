/**
 * Xirsys through the core's handle(), against the fake Xirsys: the PUT as published (channel
 * path, Basic authentication, JSON asking for the urls format, ?expire), the {"s","v"}
 * wrapper, an error in it even with HTTP 200, the 6-hour limit, revocation.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../shared/config.ts";
import { prepareXirsysTurn, processXirsysTurn, XIRSYS_MAX_TTL } from "../../shared/providers/xirsys.ts";
import { startFakeXirsys, XIRSYS_SAMPLE_URLS, xirsysError, type FakeXirsys } from "../fake-xirsys.ts";
import { createService } from "../../shared/service.ts";
import type { Fetch } from "../../shared/upstream/upstream.ts";
import { askCore } from "../helpers/ask-core.ts";
import { captureLog } from "../helpers/log.ts";
import { secret } from "../helpers/secrets.ts";
import { thrownBy } from "../helpers/service-error.ts";

// This file's own instance of the service.
const { handle } = createService();

const IDENT = "turnvend";
const SECRET = secret("xirsys-unit-secret-4f1c9a2e-7b3d-11f0");
const SIGNING = secret("xirsys-unit-revoke-signing-secret-0123456789");
const CHANNEL = "MyFirstApp";
let fake: FakeXirsys;

beforeAll(async () => {
  fake = await startFakeXirsys({ ident: IDENT, secret: SECRET, channel: CHANNEL });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const env = (extra: Record<string, string> = {}) => ({
  XIRSYS_IDENT: IDENT,
  XIRSYS_SECRET: SECRET,
  XIRSYS_CHANNEL: CHANNEL,
  XIRSYS_API_BASE: fake.apiBase,
  TURN_PROVIDERS: "xirsys",
  TURN_URL_SET: "full",
  TURN_TTL: "172800",
  RATE_LIMIT: "off",
  ...extra,
});

const call = askCore;

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const reply = (status: number, json: unknown) => ({
  status,
  headers: new Headers({ "content-type": "application/json" }),
  body: JSON.stringify(json),
});

describe("Xirsys configuration", () => {
  it("reads the ident, the secret and the channel, with the global API as the default base", () => {
    expect(parseConfig({ XIRSYS_IDENT: IDENT, XIRSYS_SECRET: SECRET, XIRSYS_CHANNEL: "/team/calls/" }).providers[0].config).toEqual({
      ident: IDENT,
      secret: SECRET,
      channel: ["team", "calls"],
      apiBase: "https://global.xirsys.net",
    });
  });

  it.each([
    [{ XIRSYS_IDENT: IDENT, XIRSYS_SECRET: SECRET }, "not_configured", "XIRSYS_CHANNEL is not set"],
    [{ XIRSYS_SECRET: SECRET, XIRSYS_CHANNEL: CHANNEL }, "not_configured", "XIRSYS_IDENT is not set"],
    [{ XIRSYS_IDENT: IDENT, XIRSYS_CHANNEL: CHANNEL }, "not_configured", "XIRSYS_SECRET is not set"],
    [{ XIRSYS_IDENT: "a:b", XIRSYS_SECRET: SECRET, XIRSYS_CHANNEL: CHANNEL }, "invalid_config", "XIRSYS_IDENT cannot contain a colon"],
    [{ XIRSYS_IDENT: IDENT, XIRSYS_SECRET: SECRET, XIRSYS_CHANNEL: "app/../other" }, "invalid_config", "XIRSYS_CHANNEL must be"],
    [{ XIRSYS_IDENT: IDENT, XIRSYS_SECRET: SECRET, XIRSYS_CHANNEL: "a//b" }, "invalid_config", "XIRSYS_CHANNEL must be"],
    [
      { XIRSYS_IDENT: IDENT, XIRSYS_SECRET: SECRET, XIRSYS_CHANNEL: CHANNEL, XIRSYS_API_BASE: "http://xirsys-proxy.example.com" },
      "invalid_config",
      "XIRSYS_API_BASE must be an https:// URL",
    ],
  ])("refuses %j, naming the variable, never the secret", (vars, code, message) => {
    const error = thrownBy(() => parseConfig(vars));
    expect(error.code).toBe(code);
    expect(error.message).toContain(message);
    expect(error.message).not.toContain(SECRET);
  });
});

describe("Xirsys requests", () => {
  it("builds the PUT: the channel path encoded, Basic authentication, the urls format, the expire", () => {
    const request = prepareXirsysTurn(
      { ident: IDENT, secret: SECRET, channel: ["team a", "calls"], apiBase: "https://global.xirsys.net" },
      600,
    );
    expect(request).toEqual({
      url: "https://global.xirsys.net/_turn/team%20a/calls?expire=600",
      method: "PUT",
      headers: { authorization: basic(IDENT, SECRET), "content-type": "application/json", accept: "application/json" },
      body: '{"format":"urls"}',
    });
  });

  it("sends exactly that to the fake", async () => {
    const { status, body } = await call(env());
    expect(status).toBe(200);
    expect(body.provider).toBe("xirsys");
    expect(fake.requests).toHaveLength(1);
    const [sent] = fake.requests;
    expect(sent.method).toBe("PUT");
    expect(sent.path).toBe(`/_turn/${CHANNEL}`);
    expect([...sent.query]).toEqual([["expire", "900"]]);
    expect(sent.headers.authorization).toBe(basic(IDENT, SECRET));
    expect(sent.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(sent.body)).toEqual({ format: "urls" });
  });
});

describe("Xirsys answers", () => {
  it("unwraps the one server object of the urls format into what a browser takes", async () => {
    const { body } = await call(env());
    expect(body.iceServers).toHaveLength(1);
    expect(body.iceServers[0].urls).toEqual(XIRSYS_SAMPLE_URLS);
    expect(body.iceServers[0]).toEqual({ urls: XIRSYS_SAMPLE_URLS, username: expect.any(String), credential: expect.any(String) });
  });

  it("goes through the compact set: one URL per transport", async () => {
    const { body } = await call(env({ TURN_URL_SET: "compact" }));
    expect(body.iceServers[0].urls).toEqual([
      "stun:fr-turn1.xirsys.com",
      "turn:fr-turn1.xirsys.com:80?transport=udp",
      "turn:fr-turn1.xirsys.com:80?transport=tcp",
      "turns:fr-turn1.xirsys.com:443?transport=tcp",
    ]);
  });

  it("asks for no more than 6 hours, and the answer's ttl and expiry say 6 hours", async () => {
    const { status, body } = await call(env({ REVOKE_SIGNING_SECRET: SIGNING }), "/api/ice-servers?ttl=86400");
    expect(status).toBe(200);
    expect(fake.requests[0].query.get("expire")).toBe(String(XIRSYS_MAX_TTL));
    expect(body.ttl).toBe(XIRSYS_MAX_TTL);
    expect(Math.abs(Date.parse(body.expiresAt) - (Date.now() + XIRSYS_MAX_TTL * 1000))).toBeLessThan(2000);
  });

  it("accepts the servers as an array too, and refuses a wrapper without servers", () => {
    const servers = [{ urls: ["stun:s.example"] }, { urls: "turn:s.example:3478", username: "u", credential: "c" }];
    expect(processXirsysTurn(reply(200, { s: "ok", v: { iceServers: servers } }), 60)).toEqual({
      iceServers: [{ urls: ["stun:s.example"] }, { urls: ["turn:s.example:3478"], username: "u", credential: "c" }],
      ttl: 60,
    });
    for (const bad of [
      { s: "ok", v: {} },
      { s: "ok" },
      { v: { iceServers: servers } },
      { s: "maybe", v: { iceServers: servers } },
      [servers],
    ]) {
      expect(thrownBy(() => processXirsysTurn(reply(200, bad), 60)).code).toBe("upstream_invalid_response");
    }
  });

  it("treats {s: error} with HTTP 200 as a failure, never echoing its reason", async () => {
    const answer = await call(env({ XIRSYS_CHANNEL: "NoSuchChannel" }));
    expect(fake.requests).toHaveLength(1);
    expect(answer.status).toBe(502);
    expect(answer.body.error.code).toBe("upstream_error");
    expect(JSON.stringify(answer.body)).not.toContain("path_not_found");
  });

  it.each([
    [xirsysError(401, "reason-a1"), 502, "upstream_unauthorized"],
    [xirsysError(403, "reason-b2"), 502, "upstream_unauthorized"],
    [xirsysError(200, "reason-c3"), 502, "upstream_error"],
    [xirsysError(201, "reason-d4"), 502, "upstream_error"],
    [xirsysError(404, "reason-e5"), 502, "upstream_error"],
    [xirsysError(429, "reason-f6"), 503, "upstream_rate_limited"],
    [xirsysError(503, "reason-g7"), 503, "upstream_unavailable"],
  ])("maps Xirsys's %j to %i %s", async (error, status, code) => {
    fake.setFault({ kind: "status", status: error.status, body: JSON.stringify(error.body) });
    const answer = await call(env());
    expect(answer.status).toBe(status);
    expect(answer.body.error.code).toBe(code);
    expect(JSON.stringify(answer.body)).not.toContain((error.body as { v: string }).v);
  });

  it("logs a refused secret for the operator, naming the variables", async () => {
    const answer = await call(env({ XIRSYS_SECRET: `${SECRET}-wrong` }));
    expect(answer.body.error.code).toBe("upstream_unauthorized");
    expect(answer.lines.some((line) => line.startsWith("OPERATOR: Xirsys refused") && line.includes("XIRSYS_SECRET"))).toBe(true);
  });
});

describe("Xirsys revocation", () => {
  it("answers 409 not_revocable without calling Xirsys: it documents no revocation", async () => {
    const vars = env({ REVOKE_SIGNING_SECRET: SIGNING });
    const issued = await call(vars);
    fake.reset();
    const answer = await call(vars, "/api/ice-servers/revoke", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ revokeToken: issued.body.revokeToken }),
    });
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe("not_revocable");
    expect(answer.body.error.message).toContain("Xirsys");
    expect(fake.requests).toHaveLength(0);
  });
});

describe("XIRSYS_API_BASE=auto: the gateway of the caller's continent", () => {
  // The gateways are Xirsys's own hosts: the test's fetch sends each call to the fake instead,
  // and keeps the origin it was meant for.
  async function gatewayAsked(location?: { country: string }) {
    const asked: string[] = [];
    const fetch: Fetch = (url, init) => {
      const target = new URL(url);
      asked.push(target.origin);
      return globalThis.fetch(`${fake.apiBase}${target.pathname}${target.search}`, init);
    };
    const response = await handle(new Request("https://site.example/api/ice-servers"), env({ XIRSYS_API_BASE: "auto" }), {
      fetch,
      location,
      log: captureLog(),
    });
    expect(response.status).toBe(200);
    expect(fake.requests).toHaveLength(1);
    return asked;
  }

  it.each([
    ["US", "https://us.xirsys.com"],
    ["NL", "https://es.xirsys.com"],
    ["SG", "https://ss.xirsys.com"],
    ["AU", "https://ms.xirsys.com"],
    ["ZA", "https://global.xirsys.net"],
  ])("a caller in %s: %s", async (country, gateway) => {
    expect(await gatewayAsked({ country })).toEqual([gateway]);
  });

  it("a caller of unknown place: the global gateway", async () => {
    expect(await gatewayAsked()).toEqual(["https://global.xirsys.net"]);
  });
});
