import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { HandleOptions } from "../../shared/handle.ts";
import { createService } from "../../shared/service.ts";
import { CLOUDFLARE_DOCUMENTED_URLS, cloudflareIceServers } from "../fake-cloudflare.ts";
import { captureLog } from "../helpers/log.ts";
import { secret } from "../helpers/secrets.ts";

// This file's own instance of the service.
const { handle } = createService();

const TOKEN = secret("tok-handle-Secret-0a1b2c3d4e5f");
const ENV = {
  CLOUDFLARE_TURN_KEY_ID: "kid",
  CLOUDFLARE_TURN_KEY_API_TOKEN: TOKEN,
  CLOUDFLARE_TURN_API_BASE: "https://cf.example/v1",
  TURN_TTL: "3600",
};

function fakeFetch(body: unknown, status = 201) {
  const calls: string[] = [];
  const fetch = async (url: string) => {
    calls.push(url);
    return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  };
  return { calls, fetch };
}

const cloudflareBody = (urls: string[]) => ({ iceServers: [{ urls, username: "user", credential: "cred" }] });

async function call(path: string, env: Record<string, string>, options: HandleOptions = {}, init?: RequestInit) {
  const response = await handle(new Request(`https://site.example${path}`, init), env, options);
  return { response, body: await response.json() };
}

describe("handle", () => {
  it("answers Cloudflare's documented answer as the README's sample shows, but for the credential and the times", async () => {
    const readme = readFileSync(`${import.meta.dirname}/../../README.md`, "utf8");
    const sample = JSON.parse(/What a browser gets back[^`]*```json\n([\s\S]*?)```/.exec(readme)![1]);
    const { fetch } = fakeFetch({ iceServers: cloudflareIceServers(CLOUDFLARE_DOCUMENTED_URLS, { username: "user", credential: "cred" }) });
    const { body } = await call(`/api/ice-servers?ttl=${sample.ttl}`, { ...ENV, RATE_LIMIT: "off" }, { fetch });
    const withoutSecrets = (answer: typeof body) => ({
      ...answer,
      expiresAt: "…",
      iceServers: answer.iceServers.map((server: { username?: string }) => ({
        ...server,
        ...(server.username && { username: "…", credential: "…" }),
      })),
    });
    expect(withoutSecrets(body)).toEqual(withoutSecrets(sample));
  });

  it("stamps expiresAt from the injected clock and the granted TTL", async () => {
    const { fetch } = fakeFetch(cloudflareBody(["stun:stun.cloudflare.com:3478"]));
    const { response, body } = await call("/api/ice-servers?ttl=120", ENV, { fetch, now: () => Date.UTC(2030, 0, 1) });
    expect(response.status).toBe(200);
    expect(body).toEqual({
      iceServers: [{ urls: ["stun:stun.cloudflare.com:3478"], username: "user", credential: "cred" }],
      ttl: 120,
      expiresAt: "2030-01-01T00:02:00.000Z",
      provider: "cloudflare",
    });
  });

  it("accepts a trailing slash on the path", async () => {
    const { fetch } = fakeFetch(cloudflareBody(["stun:a.example"]));
    expect((await call("/api/ice-servers/", ENV, { fetch })).response.status).toBe(200);
  });

  it("answers 404 JSON on any other path, without an upstream call", async () => {
    const { calls, fetch } = fakeFetch({});
    const { response, body } = await call("/api/other", ENV, { fetch });
    expect(response.status).toBe(404);
    expect(body.error.code).toBe("not_found");
    expect(calls).toHaveLength(0);
  });

  it("keeps port 53 when TURN_KEEP_PORT_53 is set", async () => {
    const urls = ["turn:t.example:53?transport=udp", "turn:t.example:3478?transport=udp"];
    const { fetch } = fakeFetch(cloudflareBody(urls));
    const kept = await call("/api/ice-servers", { ...ENV, TURN_KEEP_PORT_53: "true", TURN_URL_SET: "full" }, { fetch });
    expect(kept.body.iceServers[0].urls).toEqual(urls);
    const dropped = await call("/api/ice-servers", ENV, { fetch });
    expect(dropped.body.iceServers[0].urls).toEqual(["turn:t.example:3478?transport=udp"]);
  });

  it("drops malformed URLs with a warning, and fails when none is usable", async () => {
    const log = captureLog();
    const { lines } = log;
    const mixed = fakeFetch(cloudflareBody(["stun:ok.example", "javascript:alert(1)"]));
    const ok = await call("/api/ice-servers", ENV, { fetch: mixed.fetch, log });
    expect(ok.body.iceServers[0].urls).toEqual(["stun:ok.example"]);
    expect(lines.join("\n")).toContain("1 ICE URL(s) no browser accepts");

    const useless = fakeFetch(cloudflareBody(["turn:t.example:53", "nonsense"]));
    const failed = await call("/api/ice-servers", ENV, { fetch: useless.fetch, log });
    expect(failed.response.status).toBe(502);
    expect(failed.body.error.code).toBe("upstream_invalid_response");
  });

  it("answers 500 not_configured naming the variables when no provider is configured", async () => {
    const { calls, fetch } = fakeFetch({});
    const { response, body } = await call("/api/ice-servers", {}, { fetch });
    expect(response.status).toBe(500);
    expect(body.error.code).toBe("not_configured");
    expect(body.error.message).toContain("CLOUDFLARE_TURN_KEY_ID");
    expect(calls).toHaveLength(0);
  });

  it("answers STUN-only, marked provider none, when the host asks for it", async () => {
    const { body } = await call("/api/ice-servers", {}, { local: true });
    expect(body.provider).toBe("none");
    expect(body.iceServers).toEqual([{ urls: ["stun:stun.cloudflare.com:3478"] }]);
  });

  describe("npm start's own coturn (localRelay)", () => {
    const RELAY_SECRET = secret("local-relay-secret-0123456789abcdefghijklmnop");
    const localRelay = { secrets: [RELAY_SECRET], urls: ["turn:127.0.0.1:40000?transport=udp", "turn:127.0.0.1:40000?transport=tcp"] };
    const REVOKING = { REVOKE_SIGNING_SECRET: secret("handle-revoke-signing-secret-0123456789") };

    it("with no provider: its shared-secret credentials, marked local-relay, without a revoke token", async () => {
      const { body } = await call("/api/ice-servers", REVOKING, { local: true, localRelay, now: () => 1_700_000_000_000 });
      expect(body.provider).toBe("local-relay");
      expect(body.revokeToken).toBeUndefined();
      const [server] = body.iceServers;
      expect(server.urls).toEqual(localRelay.urls);
      expect(server.username).toMatch(/^1700086400:/);
      expect(server.credential).toBe(createHmac("sha1", RELAY_SECRET).update(server.username).digest("base64"));
      expect(JSON.stringify(body)).not.toContain(RELAY_SECRET);
    });

    it("not when a provider is configured, and never outside npm start", async () => {
      const { fetch } = fakeFetch(cloudflareBody(["turn:cf.example:3478?transport=udp"]));
      expect((await call("/api/ice-servers", ENV, { local: true, localRelay, fetch })).body.provider).toBe("cloudflare");
      const { response, body } = await call("/api/ice-servers", {}, { localRelay });
      expect(response.status).toBe(500);
      expect(body.error.code).toBe("not_configured");
    });
  });

  it("a half-configured provider is a 500 that names the missing variable, never the token", async () => {
    const { response, body } = await call("/api/ice-servers", { CLOUDFLARE_TURN_KEY_API_TOKEN: TOKEN }, { local: true });
    expect(response.status).toBe(500);
    expect(body.error.code).toBe("not_configured");
    expect(body.error.message).toContain("CLOUDFLARE_TURN_KEY_ID is not set");
    expect(JSON.stringify(body)).not.toContain(TOKEN);
  });

  it("logs an operator hint on 401 without the token or the upstream body", async () => {
    const log = captureLog();
    const { lines } = log;
    const { fetch } = fakeFetch({ errors: [{ message: `invalid token ${TOKEN}` }] }, 401);
    const { response } = await call("/api/ice-servers", ENV, { fetch, log });
    expect(response.status).toBe(502);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("check CLOUDFLARE_TURN_KEY_ID and CLOUDFLARE_TURN_KEY_API_TOKEN");
    expect(lines[0]).not.toContain(TOKEN);
    expect(lines[0]).not.toContain("invalid token");
  });

  it("turns an unexpected failure into a bare 500 internal_error, logging only its kind", async () => {
    const log = captureLog();
    const { lines } = log;
    const { fetch } = fakeFetch(cloudflareBody(["stun:a.example"]));
    const now = () => {
      throw new RangeError(`clock broke near ${TOKEN}`);
    };
    const { response, body } = await call("/api/ice-servers", ENV, { fetch, log, now });
    expect(response.status).toBe(500);
    expect(body).toEqual({ error: { code: "internal_error", message: "the server failed to handle the request" } });
    expect(lines.join("\n")).toContain("RangeError");
    expect(lines.join("\n")).not.toContain(TOKEN);
  });

  it("refuses a chunked body over 4 KiB that declares no length, without reading it all", async () => {
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        controller.enqueue(new Uint8Array(1024).fill(32));
        if (pulled > 1000) controller.close();
      },
    });
    const { fetch, calls } = fakeFetch({});
    const response = await handle(
      new Request("https://site.example/api/ice-servers", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: stream,
        duplex: "half",
      } as RequestInit),
      ENV,
      { fetch },
    );
    expect(response.status).toBe(413);
    expect(pulled).toBeLessThan(10);
    expect(calls).toHaveLength(0);
  });

  it("refuses a declared Content-Length over 4 KiB before reading", async () => {
    const { response, body } = await call(
      "/api/ice-servers",
      ENV,
      {},
      {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": "999999" },
        body: "{}",
      },
    );
    expect(response.status).toBe(413);
    expect(body.error.code).toBe("payload_too_large");
  });

  it("accepts application/json with a charset and +json media types", async () => {
    const { fetch } = fakeFetch(cloudflareBody(["stun:a.example"]));
    for (const type of ["application/json; charset=utf-8", "application/merge-patch+json"]) {
      const { response } = await call(
        "/api/ice-servers",
        ENV,
        { fetch },
        { method: "POST", headers: { "content-type": type }, body: '{"ttl": 60}' },
      );
      expect(response.status).toBe(200);
    }
  });

  it("refuses a POST that also carries a query", async () => {
    const { response, body } = await call(
      "/api/ice-servers?ttl=60",
      ENV,
      {},
      { method: "POST", headers: { "content-type": "application/json" }, body: "{}" },
    );
    expect(response.status).toBe(400);
    expect(body.error.code).toBe("invalid_request");
  });

  it("counts a caller by address, and callers with neither a user nor an address together, under one shared allowance", async () => {
    const { fetch } = fakeFetch(cloudflareBody(["stun:a.example"]));
    // A service of its own: the shared allowance belongs to the instance, and earlier tests spent some of this file's.
    const fresh = createService().handle;
    const call = async (path: string, env: Record<string, string>, options: HandleOptions) => {
      const response = await fresh(new Request(`https://site.example${path}`), env, options);
      return { response, body: await response.json() };
    };
    const limited = { ...ENV, RATE_LIMIT: "1/60s" };
    const first = await call("/api/ice-servers", limited, { fetch, log: captureLog() });
    expect([first.response.status, first.response.headers.get("ratelimit-limit")]).toEqual([200, "1"]);
    // Another anonymous caller, as far as anyone can tell: the same allowance, now spent.
    const second = await call("/api/ice-servers", limited, { fetch, log: captureLog() });
    expect([second.response.status, second.body.error.code]).toEqual([429, "rate_limited"]);
    const options = { fetch, clientIp: "203.0.113.50" };
    expect((await call("/api/ice-servers", limited, options)).response.status).toBe(200);
    expect((await call("/api/ice-servers", limited, options)).response.status).toBe(429);
  });
});
