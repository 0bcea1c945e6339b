/**
 * createHandler and turn-vend/next in process: the options an app mounts the core with.
 * The packed package runs the same code from plain Node (package.test.ts) and in a Next.js
 * app under the whole contract (next.contract.test.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createHandler, netlifyClientIp, netlifyOwnOrigins, vercelClientIp, vercelLocation, vercelOwnOrigins } from "../package/index.ts";
import * as next from "../package/next.ts";
import { startFakeMetered, type FakeMetered } from "./fake-metered.ts";
import { useProcessEnv } from "./helpers/env.ts";
import { captureLog, quietLog } from "./helpers/log.ts";
import { secret } from "./helpers/secrets.ts";

const SECRET = secret("create-handler-shared-secret-0123456789");
const ENV = { TURN_SHARED_SECRET: SECRET, TURN_URLS: "turn:turn.example.test:3478" };
const APP = "https://app.example.com";

const get = (path: string, headers: Record<string, string> = {}) => new Request(`${APP}${path}`, { headers });

const code = async (response: Response) => (await response.json()).error.code;

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

describe("createHandler", () => {
  it("serves {basePath} and {basePath}/revoke, and nothing else", async () => {
    const handler = createHandler({ basePath: "/rtc/turn", env: ENV });
    expect((await handler(get("/rtc/turn?ttl=60"))).status).toBe(200);
    expect((await handler(get("/rtc/turn/"))).status).toBe(200);
    const revoke = await handler(
      new Request(`${APP}/rtc/turn/revoke`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"revokeToken":"x"}',
      }),
    );
    expect([revoke.status, await code(revoke)]).toEqual([409, "not_revocable"]);
    const elsewhere = await handler(get("/api/ice-servers"));
    expect([elsewhere.status, await code(elsewhere)]).toEqual([404, "not_found"]);
  });

  it("serves whatever host the app's framework builds the URL with (Next.js: its own hostname, not Host)", async () => {
    const handler = createHandler({ env: ENV });
    const framed = new Request("http://localhost:3000/api/ice-servers", { headers: { host: "127.0.0.1:3000" } });
    expect((await handler(framed)).status).toBe(200);
    const doubleSlash = await handler(new Request("http://localhost:3000//evil.example/api/ice-servers"));
    expect([doubleSlash.status, await code(doubleSlash)]).toEqual([400, "invalid_request"]);
  });

  it("makes each handler an instance of its own: two with the same variables count callers apart", async () => {
    const env = { ...ENV, RATE_LIMIT: "1/60s" };
    const [first, second] = [createHandler({ env }), createHandler({ env })];
    const from = { clientIp: "203.0.113.91" };
    expect((await first(get("/api/ice-servers"), from)).status).toBe(200);
    expect((await first(get("/api/ice-servers"), from)).status).toBe(429);
    expect((await second(get("/api/ice-servers"), from)).status).toBe(200);
  });

  it("mounts at /api/ice-servers by default", async () => {
    const handler = createHandler({ env: ENV });
    expect((await handler(get("/api/ice-servers"))).status).toBe(200);
  });

  it("refuses a basePath that is not a plain path, when the app starts rather than per request", () => {
    for (const basePath of ["", "/", "api", "/api/", "//evil.example", "/a/../b", "/a?b", "/a#b", "/a b"]) {
      expect(() => createHandler({ basePath }), basePath).toThrow(TypeError);
    }
  });

  it("reads the runtime's process.env by default, and an env function on every request", async () => {
    restore = useProcessEnv(ENV);
    expect((await createHandler()(get("/api/ice-servers"))).status).toBe(200);

    let env: Record<string, string> = {};
    const handler = createHandler({ env: () => env });
    expect(await code(await handler(get("/api/ice-servers")))).toBe("not_configured");
    env = ENV;
    expect((await handler(get("/api/ice-servers"))).status).toBe(200);
  });

  it("trusts no Origin as its own by default: a page must be in ALLOWED_ORIGINS or ownOrigins", async () => {
    const fromApp = get("/api/ice-servers", { origin: APP, host: "app.example.com" });
    expect(await code(await createHandler({ env: ENV })(fromApp.clone()))).toBe("origin_not_allowed");
    expect((await createHandler({ env: { ...ENV, ALLOWED_ORIGINS: APP } })(fromApp.clone())).status).toBe(200);
    expect((await createHandler({ env: ENV, ownOrigins: [APP] })(fromApp.clone())).status).toBe(200);
    expect((await createHandler({ env: ENV, ownOrigins: () => [APP] })(fromApp.clone())).status).toBe(200);
  });

  it("counts callers by the address clientIp gives, and all callers together without it", async () => {
    restore = useProcessEnv({ VERCEL: undefined, NETLIFY: undefined });
    const env = { ...ENV, RATE_LIMIT: "1/60s" };
    const counted = createHandler({ env, clientIp: netlifyClientIp });
    const from = (ip: string) => get("/api/ice-servers", { "x-nf-client-connection-ip": ip });
    expect((await counted(from("198.51.100.77"))).status).toBe(200);
    expect(await code(await counted(from("198.51.100.77")))).toBe("rate_limited");
    expect((await counted(from("198.51.100.78"))).status).toBe(200);

    // Off any platform and with no clientIp, a header names nobody: one allowance for everyone,
    // and the operator is told so once.
    const log = captureLog();
    const shared = createHandler({ env: { ...env, RATE_LIMIT: "2/60s" }, log });
    expect((await shared(from("198.51.100.79"))).status).toBe(200);
    expect((await shared(from("198.51.100.80"))).status).toBe(200);
    expect(await code(await shared(from("198.51.100.81")))).toBe("rate_limited");
    expect(log.lines.filter((line) => line.includes("share one RATE_LIMIT allowance"))).toHaveLength(1);
    const json = captureLog();
    const sharedJson = createHandler({ env: { ...env, LOG_FORMAT: "json" }, log: json });
    await sharedJson(from("198.51.100.82"));
    await sharedJson(from("198.51.100.83"));
    const events = json.lines.map((line) => JSON.parse(line)).filter((entry) => entry.type === "operator");
    expect(events).toEqual([expect.objectContaining({ level: "warn", event: "rate_limit_shared" })]);
  });

  it("reads the client address from the platform's own header, only on that platform", async () => {
    const env = { ...ENV, RATE_LIMIT: "1/60s" };
    const ask = (handler: ReturnType<typeof createHandler>, headers: Record<string, string>) =>
      handler(get("/api/ice-servers", headers)).then((response) => response.status);
    restore = useProcessEnv({ VERCEL: "1", NETLIFY: undefined });
    const onVercel = createHandler({ env, clientIp: () => "192.0.2.200" });
    expect(await ask(onVercel, { "x-real-ip": "203.0.113.60" })).toBe(200);
    expect(await ask(onVercel, { "x-real-ip": "203.0.113.61" })).toBe(200);
    expect(await ask(onVercel, { "x-real-ip": "203.0.113.61" })).toBe(429);
    restore();
    restore = useProcessEnv({ VERCEL: undefined, NETLIFY: "true" });
    const onNetlify = createHandler({ env, log: quietLog() });
    expect(await ask(onNetlify, { "x-nf-client-connection-ip": "203.0.113.62" })).toBe(200);
    expect(await ask(onNetlify, { "x-nf-client-connection-ip": "203.0.113.63" })).toBe(200);
    // Vercel's header means nothing on Netlify.
    expect(await ask(onNetlify, { "x-real-ip": "203.0.113.64" })).toBe(200);
    expect(await ask(onNetlify, { "x-real-ip": "203.0.113.65" })).toBe(429);
  });

  it("counts by the clientIp the framework passes per request, ahead of the option; a server's own second argument is not one", async () => {
    restore = useProcessEnv({ VERCEL: undefined, NETLIFY: undefined });
    const handler = createHandler({ env: { ...ENV, RATE_LIMIT: "1/60s" }, clientIp: () => "192.0.2.201" });
    const ask = (facts?: object) => handler(get("/api/ice-servers"), facts).then((response) => response.status);
    expect(await ask({ clientIp: "203.0.113.70" })).toBe(200);
    expect(await ask({ clientIp: "203.0.113.70" })).toBe(429);
    expect(await ask({ clientIp: "203.0.113.71" })).toBe(200);
    // Next.js's route context and Deno.serve's connection info carry no clientIp: the option counts.
    expect(await ask({ params: Promise.resolve({}) })).toBe(200);
    expect(await ask({ remoteAddr: { hostname: "203.0.113.72" } })).toBe(429);
    restore();
    restore = useProcessEnv({ VERCEL: "1", NETLIFY: undefined });
    // On the platform, its own header wins: there the socket's peer is the platform's proxy.
    const onVercel = createHandler({ env: { ...ENV, RATE_LIMIT: "1/60s" } });
    const fromVercel = (ip: string) => get("/api/ice-servers", { "x-real-ip": ip });
    expect((await onVercel(fromVercel("203.0.113.73"), { clientIp: "10.0.0.1" })).status).toBe(200);
    expect((await onVercel(fromVercel("203.0.113.74"), { clientIp: "10.0.0.1" })).status).toBe(200);
  });

  it("allows a page of the app's own origin by the browser's Sec-Fetch-Site, and still refuses another site", async () => {
    restore = useProcessEnv({ VERCEL: undefined, NETLIFY: undefined });
    const handler = createHandler({ env: ENV });
    const post = (headers: Record<string, string>) =>
      handler(
        new Request(`${APP}/api/ice-servers`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: '{"ttl":60}',
        }),
      );
    expect((await post({ origin: APP, "sec-fetch-site": "same-origin" })).status).toBe(200);
    expect(await code(await post({ origin: APP }))).toBe("origin_not_allowed");
    expect(await code(await post({ origin: "https://evil.example", "sec-fetch-site": "cross-site" }))).toBe("origin_not_allowed");
    expect(await code(await post({ origin: "https://app.example.com.evil.example", "sec-fetch-site": "same-site" }))).toBe(
      "origin_not_allowed",
    );
  });
});

describe("platform readers", () => {
  it("read what Vercel and Netlify set", () => {
    const request = get("/", {
      "x-real-ip": "203.0.113.1",
      "x-forwarded-for": "203.0.113.2, 10.0.0.1",
      "x-nf-client-connection-ip": "203.0.113.3",
      host: "app.example.com",
    });
    expect(vercelClientIp(request)).toBe("203.0.113.1");
    expect(vercelClientIp(get("/", { "x-forwarded-for": "203.0.113.2, 10.0.0.1" }))).toBe("203.0.113.2");
    expect(netlifyClientIp(request)).toBe("203.0.113.3");
    expect(netlifyClientIp(get("/"))).toBeUndefined();
    expect(netlifyOwnOrigins(request)).toEqual([APP]);
    restore = useProcessEnv({
      VERCEL_URL: "app-abc.vercel.app",
      VERCEL_BRANCH_URL: undefined,
      VERCEL_PROJECT_PRODUCTION_URL: "app.example.org",
    });
    expect(vercelOwnOrigins(request)).toEqual([APP, "https://app-abc.vercel.app", "https://app.example.org"]);
  });
});

describe("turn-vend/next", () => {
  it("answers GET, POST and OPTIONS from process.env", async () => {
    restore = useProcessEnv({ ...ENV, VERCEL: undefined });
    expect((await next.GET(get("/api/ice-servers"))).status).toBe(200);
    const post = await next.POST(
      new Request(`${APP}/api/ice-servers`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"ttl":30}' }),
    );
    expect((await post.json()).ttl).toBe(30);
    expect((await next.OPTIONS(new Request(`${APP}/api/ice-servers`, { method: "OPTIONS" }))).status).toBe(204);
  });

  it("answers every method Next.js routes to a route handler with the JSON contract", async () => {
    restore = useProcessEnv({ ...ENV, VERCEL: undefined });
    for (const [method, route] of [
      ["HEAD", next.HEAD],
      ["PUT", next.PUT],
      ["DELETE", next.DELETE],
      ["PATCH", next.PATCH],
    ] as const) {
      const answer = await route(new Request(`${APP}/api/ice-servers`, { method }));
      expect([method, answer.status, answer.headers.get("allow")]).toEqual([method, 405, "GET, POST, OPTIONS"]);
      if (method !== "HEAD") expect(await code(answer)).toBe("method_not_allowed");
    }
  });

  it("trusts Vercel's headers and system variables only on Vercel", async () => {
    const fromApp = () => get("/api/ice-servers", { origin: "https://app-abc.vercel.app", "x-real-ip": "203.0.113.50" });
    restore = useProcessEnv({ ...ENV, RATE_LIMIT: "1/60s", VERCEL: undefined, VERCEL_URL: "app-abc.vercel.app" });
    expect(await code(await next.GET(fromApp()))).toBe("origin_not_allowed");
    restore();
    restore = useProcessEnv({ ...ENV, RATE_LIMIT: "1/60s", VERCEL: "1", VERCEL_URL: "app-abc.vercel.app" });
    expect((await next.GET(fromApp())).status).toBe(200);
    expect(await code(await next.GET(fromApp()))).toBe("rate_limited");
  });
});

describe("TURN_ROUTES in an app: the location option", () => {
  const METERED_SECRET = secret("create-handler-metered-secret-Jk4Lz8Qp");
  let metered: FakeMetered;
  beforeAll(async () => {
    metered = await startFakeMetered({ secretKey: METERED_SECRET });
  });
  afterAll(() => metered.close());

  // Callers in Germany get Metered; everyone else, the shared secret.
  const routed = () => ({
    ...ENV,
    METERED_APP: metered.origin,
    METERED_SECRET_KEY: METERED_SECRET,
    TURN_PROVIDERS: "shared-secret",
    TURN_ROUTES: "DE=metered",
  });
  const fromGermany = () => get("/api/ice-servers", { "x-vercel-ip-country": "DE", "x-vercel-ip-continent": "EU" });
  const provider = async (response: Response) => (await response.json()).provider;

  it("routes by what the option reads, and by nothing without it", async () => {
    expect(await provider(await createHandler({ env: routed(), location: vercelLocation })(fromGermany()))).toBe("metered");
    expect(await provider(await createHandler({ env: routed() })(fromGermany()))).toBe("shared-secret");
    const fixed = createHandler({ env: routed(), location: () => ({ country: "de" }) });
    expect(await provider(await fixed(get("/api/ice-servers")))).toBe("metered");
  });

  it("turn-vend/next believes Vercel's geo headers only on Vercel", async () => {
    restore = useProcessEnv({ ...routed(), VERCEL: undefined });
    expect(await provider(await next.GET(fromGermany()))).toBe("shared-secret");
    restore();
    restore = useProcessEnv({ ...routed(), VERCEL: "1" });
    expect(await provider(await next.GET(fromGermany()))).toBe("metered");
  });
});
