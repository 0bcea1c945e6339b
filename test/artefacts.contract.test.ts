/**
 * What the hosts deploy, not what their dev servers load: `netlify build` and `vercel build`
 * run offline with the hosts' own CLIs, and the contract runs against the artefacts, each in
 * a bare `node` process (no TypeScript loader) from a copy outside the repository.
 */
import { createClient } from "@redis/client";
import { build } from "esbuild";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { isBuiltin } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEY_PREFIX } from "../shared/rate-limit/limiter.ts";
import { buildNetlify, buildVercel, type NetlifyArtefact, type VercelArtefact } from "../scripts/artefacts/build.ts";
import { ICE_SERVERS_PATH, REVOKE_PATH, TURN_REST_PATH } from "../shared/handle.ts";
import { CONTRACT_TOKEN } from "./contract/cases.ts";
import { IN_BRAZIL, IN_CHINA, IN_GERMANY, loopbackPlaces, NOWHERE } from "./contract/routing-callers.ts";
import { describeRouting } from "./contract/routing-cases.ts";
import { describeContract, type EntryPoint } from "./contract/vitest-suite.ts";
import { config as netlifyConfig } from "../functions/ice-servers.mts";
import { fetchFrom } from "./helpers/fetch-from.ts";
import { signHs256 } from "./helpers/jwt.ts";
import { spawnLogged, type Spawned } from "./helpers/process.ts";
import { originForPath } from "./helpers/route-origin.ts";
import { startRedis, type RedisServer } from "./helpers/redis.ts";
import { secret } from "./helpers/secrets.ts";
import { isMeteredUsageRead, startFakeMetered, type FakeMetered } from "./fake-metered.ts";
import { startFakeTwilio, type FakeTwilio } from "./fake-twilio.ts";

const RUNTIMES = `${import.meta.dirname}/../scripts/artefacts`;

// One build of each per run, shared by every suite below; the two builds run one after the other.
let netlifyBuild: Promise<NetlifyArtefact> | undefined;
let vercelBuild: Promise<VercelArtefact> | undefined;
const netlifyArtefact = () => (netlifyBuild ??= buildNetlify());
const vercelArtefact = () => (vercelBuild ??= netlifyArtefact().then(buildVercel, buildVercel));

const started: Spawned[] = [];

async function startRuntime(script: string, args: string[], env: Record<string, string>): Promise<{ origin: string; runtime: Spawned }> {
  // Only what a function gets on the host: its own variables, no test runner environment.
  const runtime = spawnLogged(process.execPath, [`${RUNTIMES}/${script}`, ...args], { PATH: process.env.PATH, ...env });
  started.push(runtime);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const port = /listening on (\d+)/.exec(runtime.output())?.[1];
    if (port) return { origin: `http://127.0.0.1:${port}`, runtime };
    if (runtime.child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${script} did not start:\n${runtime.output()}`);
}

async function startNetlify(env: Record<string, string>) {
  const artefact = await netlifyArtefact();
  return startRuntime("netlify-runtime.mjs", [artefact.dir, artefact.mainFile], env);
}

/** Every route, to its `.func` as Vercel routes them: one process for each function, however many routes it serves. */
async function startVercel(env: Record<string, string>): Promise<EntryPoint & { runtimes: Spawned[] }> {
  const { funcs } = await vercelArtefact();
  const folders = [...new Set(Object.values(funcs))];
  const functions = await Promise.all(folders.map((folder) => startRuntime("vercel-runtime.mjs", [folder], env)));
  const origins = Object.fromEntries(Object.entries(funcs).map(([route, folder]) => [route, functions[folders.indexOf(folder)].origin]));
  return {
    runtimes: functions.map((one) => one.runtime),
    send: (path, init) => fetch(`${originForPath(origins, path)}${path}`, init),
    close: async () => {
      for (const one of functions) await one.runtime.stop();
    },
  };
}

afterAll(async () => {
  await Promise.all(started.map((runtime) => runtime.stop()));
  for (const build of [netlifyBuild, vercelBuild]) {
    const tempDir = await build?.then(
      (artefact) => artefact.tempDir,
      () => undefined,
    );
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  }
});

describe("the builds", () => {
  it("netlify build succeeds with nothing to complain about, on Node 22", async () => {
    const artefact = await netlifyArtefact();
    expect(artefact.complaints).toEqual([]);
    // netlify.toml pins it, whatever Node runs the build.
    expect(artefact.runtimeVersion).toBe("nodejs22.x");
  }, 180_000);

  it("vercel build succeeds with nothing to complain about, on Node 22", async () => {
    const artefact = await vercelArtefact();
    expect(artefact.complaints).toEqual([]);
    // package.json's engines allows 20 and 22; Vercel takes the newest major allowed.
    expect(artefact.runtime).toBe("nodejs22.x");
  }, 180_000);
});

/** The imports of a built file, as esbuild reads them: `import-statement` (loaded at start) or `dynamic-import`. */
async function importsOf(file: string): Promise<{ path: string; kind: string }[]> {
  const { metafile } = await build({
    entryPoints: [file],
    bundle: true,
    write: false,
    metafile: true,
    packages: "external",
    // Other files stay imports too: only this one's imports are read.
    external: ["./*", "../*"],
    platform: "node",
    format: "esm",
    logLevel: "silent",
  });
  return Object.values(metafile.inputs)[0].imports.map(({ path, kind }) => ({ path, kind }));
}

// scripts/host-build/netlify.mjs (netlify.toml's build command) hands Netlify one bundled file to zip, as it is:
// left to itself, Netlify ships our code unminified beside valibot's whole package, each loaded at a cold start.
describe("what netlify build ships", () => {
  it("our bundled file as the build step wrote it, and jose and @redis/client beside it, imported only when a request needs them", async () => {
    const { dir, mainFile } = await netlifyArtefact();
    const files = readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
    // Besides Netlify's own ___netlify-* wrappers, the function and the two packages' files: no node_modules.
    const lazy = ["lazy/jose.mjs", "lazy/redis-client.mjs"];
    expect(files.filter((file) => !file.startsWith("___netlify-")).sort()).toEqual([join(mainFile), ...lazy].sort());

    const main = join(dir, mainFile);
    // Not printed again by Netlify's esbuild (unminified, about 1 ms more to load): the build step's bytes.
    expect(readFileSync(main).equals(readFileSync(join(import.meta.dirname, "../.netlify/bundled-functions/ice-servers.mjs")))).toBe(true);
    const imports = await importsOf(main);
    // Loaded at start: Node's builtins only, no package and no other file.
    expect(imports.filter(({ kind, path }) => kind === "import-statement" && !isBuiltin(path))).toEqual([]);
    expect(imports.filter(({ kind }) => kind === "dynamic-import").map(({ path }) => path)).toEqual(
      expect.arrayContaining(lazy.map((file) => `./${file}`)),
    );
  }, 180_000);

  it("keeps the function's paths and Netlify's rate limit from its in-source config", async () => {
    const { routes, trafficRules } = await netlifyArtefact();
    expect(routes.map((route) => route.literal)).toEqual(netlifyConfig.path);
    const { windowLimit, windowSize, aggregateBy } = netlifyConfig.rateLimit!;
    expect(trafficRules).toMatchObject({
      action: {
        type: "rate_limit",
        config: {
          rateLimitConfig: { windowLimit, windowSize },
          aggregate: { keys: (aggregateBy as string[]).map((type) => ({ type })) },
        },
      },
    });
  }, 180_000);
});

// What Vercel ships is one function, bundled: a cold start loads one file and Node's own modules,
// not each of our files and valibot's whole package from node_modules (docs/architecture.md).
describe("the Vercel function as built", () => {
  const filesIn = (dir: string) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());

  it("is one function answering at each of the core's paths", async () => {
    const { funcs } = await vercelArtefact();
    expect(Object.keys(funcs).sort()).toEqual([ICE_SERVERS_PATH, REVOKE_PATH, TURN_REST_PATH].sort());
    // Linked .func folders: deployed once, so one warm instance serves every path.
    expect(new Set(Object.values(funcs)).size).toBe(1);
  }, 180_000);

  it("loads one bundled file at a cold start, and neither jose nor @redis/client for a request without a JWT or Redis", async () => {
    const folder = (await vercelArtefact()).funcs[ICE_SERVERS_PATH];
    // Nothing resolved from node_modules: every package it uses is inside its own files.
    expect(filesIn(folder).filter((entry) => entry.parentPath.includes("node_modules"))).toEqual([]);
    const record = join(mkdtempSync(join(tmpdir(), "vercel-loads-")), "loads.txt");
    const { origin, runtime } = await startRuntime("vercel-runtime.mjs", [folder], {
      NODE_OPTIONS: `--import=${join(import.meta.dirname, "helpers/record-loads.mjs")}`,
      RECORD_LOADS: record,
      TURN_SHARED_SECRET: secret("artefact-loads-shared-secret-Vb41Qz"),
      TURN_URLS: "turn:turn.example.com:3478?transport=udp",
    });
    const loaded = () =>
      readFileSync(record, "utf8")
        .trim()
        .split("\n")
        .filter((line) => line.startsWith("file:"))
        .map((url) => fileURLToPath(url))
        .filter((file) => file.startsWith(folder))
        .map((file) => relative(folder, file));
    let atStart: string[];
    let afterRequest: string[];
    try {
      atStart = loaded();
      expect((await fetch(`${origin}/api/ice-servers`)).status).toBe(200);
      afterRequest = loaded();
    } finally {
      await runtime.stop();
      rmSync(join(record, ".."), { recursive: true, force: true });
    }
    const { handler } = JSON.parse(readFileSync(join(folder, ".vc-config.json"), "utf8"));
    // The handler, and at most the chunk of the bundler's helpers it shares with chunks of ours split
    // off behind an import(), where there are any.
    expect(atStart[0]).toBe(handler);
    expect(atStart.length).toBeLessThanOrEqual(2);
    const holding = (text: RegExp) =>
      filesIn(folder)
        .map((entry) => relative(folder, join(entry.parentPath, entry.name)))
        .filter((file) => text.test(readFileSync(join(folder, file), "utf8")));
    // valibot's Standard Schema vendor, jose's error code, @redis/client's error: each in exactly one file.
    expect(holding(/vendor:\s*"valibot"/)).toEqual([handler]);
    for (const lazy of [/ERR_JWT_CLAIM_VALIDATION_FAILED/, /The client is closed/]) {
      expect(holding(lazy)).toHaveLength(1);
      expect(afterRequest).not.toContain(holding(lazy)[0]);
    }
  }, 180_000);

  it("serves public/ as it is", async () => {
    const { staticDir } = await vercelArtefact();
    const publicDir = join(import.meta.dirname, "../public");
    for (const entry of filesIn(publicDir)) {
      const file = relative(publicDir, join(entry.parentPath, entry.name));
      expect(existsSync(join(staticDir, file)), file).toBe(true);
      expect(readFileSync(join(staticDir, file)).equals(readFileSync(join(publicDir, file))), file).toBe(true);
    }
  }, 180_000);
});

// The Node hosts sign with node:crypto, which TLS has loaded already: WebCrypto's first key would
// load Node's WebIDL and key code, about 1 ms of a cold start (node/hmac.ts, docs/architecture.md).
describe("a shared secret's credential and revoke token on the Node hosts", () => {
  async function builtinsAfterOneAnswer(start: (env: Record<string, string>) => Promise<{ origin: string; runtime: Spawned }>) {
    const record = join(mkdtempSync(join(tmpdir(), "builtins-")), "loads.txt");
    const { origin, runtime } = await start({
      NODE_OPTIONS: `--import=${join(import.meta.dirname, "helpers/record-loads.mjs")}`,
      RECORD_LOADS: record,
      TURN_SHARED_SECRET: secret("artefact-builtins-shared-secret-Qd83Lm"),
      TURN_URLS: "turn:turn.example.com:3478?transport=udp",
      REVOKE_SIGNING_SECRET: secret("artefact-builtins-revoke-secret-Zt62Pw"),
    });
    const builtins = () =>
      readFileSync(record, "utf8")
        .split("\n")
        .filter((line) => line.startsWith("builtin:"));
    try {
      const response = await fetch(`${origin}/api/ice-servers`);
      expect(response.status).toBe(200);
      const body = await response.json();
      expect(body.iceServers[0].credential).toMatch(/^[A-Za-z0-9+/]{27}=$/);
      expect(body.revokeToken).toEqual(expect.any(String));
      // Written as the answer finishes, which can trail the body's arrival by a moment.
      for (let tries = 0; tries < 40 && builtins().length === 0; tries++) await new Promise((resolve) => setTimeout(resolve, 50));
      return builtins();
    } finally {
      await runtime.stop();
      rmSync(join(record, ".."), { recursive: true, force: true });
    }
  }

  it.each([
    ["Netlify", startNetlify],
    [
      "Vercel",
      async (env: Record<string, string>) => startRuntime("vercel-runtime.mjs", [(await vercelArtefact()).funcs[ICE_SERVERS_PATH]], env),
    ],
  ])(
    "%s: signed with node:crypto, without loading WebCrypto",
    async (_host, start) => {
      const builtins = await builtinsAfterOneAnswer(start);
      expect(builtins).toContain("builtin:NativeModule crypto");
      // WebCrypto's HMAC and the WebIDL checks of its arguments: what its first importKey loads.
      expect(builtins).not.toContain("builtin:NativeModule internal/crypto/mac");
      expect(builtins).not.toContain("builtin:NativeModule internal/crypto/webidl");
    },
    180_000,
  );
});

let netlifyRuntime: Spawned | undefined;
describeContract("Netlify function as built by netlify build", async (env) => {
  const { origin, runtime } = await startNetlify(env);
  netlifyRuntime = runtime;
  return { send: (path, init) => fetch(`${origin}${path}`, init), close: () => runtime.stop() };
});

let vercelRuntimes: Spawned[] = [];
describeContract("Vercel functions as built by vercel build", async (env) => {
  const entry = await startVercel(env);
  vercelRuntimes = entry.runtimes;
  return entry;
});

// Each caller connects from a loopback address of its own, which the runtime stand-ins place as
// the hosts' edges place a connection: Netlify in context.geo, Vercel in its x-vercel-ip-* headers.
const ROUTED = [IN_CHINA, IN_GERMANY, IN_BRAZIL, NOWHERE];
const { addressOf, table } = loopbackPlaces(ROUTED);

describeRouting("the Netlify function as built by netlify build (context.geo)", ROUTED, async (env) => {
  const artefact = await netlifyArtefact();
  const { origin, runtime } = await startRuntime("netlify-runtime.mjs", [artefact.dir, artefact.mainFile, table], env);
  return { ask: (caller, headers) => fetchFrom(addressOf(caller), `${origin}/api/ice-servers`, headers), close: () => runtime.stop() };
});

describeRouting("the Vercel function as built by vercel build (x-vercel-ip-country)", ROUTED, async (env) => {
  const { funcs } = await vercelArtefact();
  const { origin, runtime } = await startRuntime("vercel-runtime.mjs", [funcs["/api/ice-servers"], table], env);
  return { ask: (caller, headers) => fetchFrom(addressOf(caller), `${origin}/api/ice-servers`, headers), close: () => runtime.stop() };
});

// Runs after the contracts: by then every upstream fault has been logged.
it("the built functions never printed the API token", () => {
  // The 401 case (on /api/ice-servers) logs an operator hint: seeing it proves the function's own log is what is scanned.
  for (const runtime of [netlifyRuntime, vercelRuntimes[0]])
    expect(runtime?.output()).toContain("OPERATOR: Cloudflare refused our credentials");
  for (const runtime of [netlifyRuntime, ...vercelRuntimes]) expect(runtime!.output()).not.toContain(CONTRACT_TOKEN);
});

// The contract runs without a JWT or Redis, so it never loads jose or the Redis client: these
// runs make each artefact load both, as a deployment with AUTH_MODE=jwt and REDIS_URL does.
describe("the packages loaded only when configured are shipped", () => {
  const JWT_SECRET = secret("artefact-jwt-secret-Qm7Rt2Vx9Lp4");
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startRedis();
  }, 30_000);
  afterAll(() => redis?.close());

  async function jwtAndRedis(start: (env: Record<string, string>) => Promise<EntryPoint>, who: string) {
    const entry = await start({
      // The shared-secret provider answers without an upstream call: this run is about the packages.
      TURN_SHARED_SECRET: secret("artefact-shared-secret-Kd83hLq0Wz5"),
      TURN_URLS: "turn:turn.example.com:3478?transport=udp",
      AUTH_MODE: "jwt",
      AUTH_JWT_SECRET: JWT_SECRET,
      AUTH_JWT_ISSUER: "https://issuer.example",
      AUTH_JWT_AUDIENCE: "turn",
      REDIS_URL: redis.url,
      RATE_LIMIT: "2/60s",
    });
    try {
      const token = await signHs256(JWT_SECRET, { iss: "https://issuer.example", aud: "turn", sub: who, exp: "5m" });
      const get = () => entry.send("/api/ice-servers", { headers: { authorization: `Bearer ${token}` } });
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await get()).status);
      expect(statuses).toEqual([200, 200, 429]);
      const client = createClient({ url: redis.url });
      await client.connect();
      try {
        expect(await client.keys(`${KEY_PREFIX}user:${who}*`)).toHaveLength(1);
      } finally {
        await client.quit();
      }
    } finally {
      await entry.close?.();
    }
  }

  it("Netlify: a JWT is verified (jose) and counted in Redis (@redis/client)", async () => {
    await jwtAndRedis(async (env) => {
      const { origin, runtime } = await startNetlify(env);
      return { send: (path, init) => fetch(`${origin}${path}`, init), close: () => runtime.stop() };
    }, "netlify-user");
  }, 180_000);

  it("Vercel: a JWT is verified (jose) and counted in Redis (@redis/client)", async () => {
    await jwtAndRedis(startVercel, "vercel-user");
  }, 180_000);
});

describe("spending limits in a built function", () => {
  const METERED_KEY = secret("artefact-metered-spend-Ty6Gh7Jk8");
  const TWILIO_SID = `AC${"7e".repeat(16)}`;
  const TWILIO_TOKEN = secret("artefact-twilio-spend-Bn9Mq1Wz2");
  let metered: FakeMetered;
  let twilio: FakeTwilio;

  beforeAll(async () => {
    metered = await startFakeMetered({ secretKey: METERED_KEY });
    twilio = await startFakeTwilio({ accountSid: TWILIO_SID, authToken: TWILIO_TOKEN });
    metered.usage = { quotaInGB: 150, usageInGB: 45 };
    twilio.usage = { megabytes: "10000", unit: "megabytes" };
  });
  afterAll(async () => {
    await metered?.close();
    await twilio?.close();
  });

  const spendEnv = (limits: string) => ({
    METERED_APP: metered.origin,
    METERED_SECRET_KEY: METERED_KEY,
    TWILIO_ACCOUNT_SID: TWILIO_SID,
    TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
    TWILIO_API_BASE: twilio.apiBase,
    TURN_PROVIDERS: "metered,twilio",
    TURN_MONTHLY_LIMITS: limits,
    LOG_FORMAT: "json",
  });

  /** Metered over its limit is skipped for Twilio; with Twilio over too, 503 spend_limit_reached. */
  async function overLimit(start: (env: Record<string, string>) => Promise<EntryPoint & { output(): string }>) {
    metered.reset();
    const failover = await start(spendEnv("metered:40GB,twilio:50GB"));
    try {
      const answer = await failover.send("/api/ice-servers");
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { provider: string }).provider).toBe("twilio");
      expect(metered.requests.filter((request) => !isMeteredUsageRead(request))).toEqual([]);
    } finally {
      await failover.close?.();
    }
    const none = await start(spendEnv("metered:40GB,twilio:5GB"));
    try {
      const answer = await none.send("/api/ice-servers");
      expect(answer.status).toBe(503);
      expect(((await answer.json()) as { error: { code: string } }).error.code).toBe("spend_limit_reached");
      expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
      for (const value of [METERED_KEY, TWILIO_TOKEN]) expect(none.output()).not.toContain(value);
      console.info(none.output());
    } finally {
      await none.close?.();
    }
  }

  it("Netlify: a provider over its limit is skipped, and with none left the answer is 503", async () => {
    await overLimit(async (env) => {
      const { origin, runtime } = await startNetlify(env);
      return { send: (path, init) => fetch(`${origin}${path}`, init), close: () => runtime.stop(), output: () => runtime.output() };
    });
  }, 180_000);

  it("Vercel: a provider over its limit is skipped, and with none left the answer is 503", async () => {
    await overLimit(async (env) => {
      const entry = await startVercel(env);
      return { ...entry, output: () => entry.runtimes.map((runtime) => runtime.output()).join("\n") };
    });
  }, 180_000);
});

describe("LOG_FORMAT=json in a built function", () => {
  it("Netlify: one JSON request line per request, with the fields the core writes, and nothing secret", async () => {
    const shared = secret("artefact-log-shared-secret-Hq27Vn");
    const { origin, runtime } = await startNetlify({
      LOG_FORMAT: "json",
      TURN_SHARED_SECRET: shared,
      TURN_URLS: "turn:turn.example.com:3478?transport=udp",
    });
    try {
      const response = await fetch(`${origin}/api/ice-servers`);
      expect(response.status).toBe(200);
      const { iceServers } = (await response.json()) as { iceServers: { credential?: string }[] };
      const requestLines = () =>
        runtime
          .output()
          .split("\n")
          .filter((line) => line.startsWith("{"))
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .filter((entry) => entry.type === "request");
      const deadline = Date.now() + 5000;
      while (requestLines().length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(requestLines()).toEqual([
        {
          time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
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
          client: "127.0.0.1",
        },
      ]);
      for (const value of [shared, iceServers.find((entry) => entry.credential)!.credential!])
        expect(runtime.output()).not.toContain(value);
      // Through console, so that the suite-wide secret scan reads the function's log too.
      console.info(runtime.output());
    } finally {
      await runtime.stop();
    }
  }, 180_000);
});
