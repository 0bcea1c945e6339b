/**
 * The published package: `npm pack`, installed into an empty folder and used from plain Node
 * ESM, with no TypeScript loader and no file of this repository in reach.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeCloudflare } from "./fake-cloudflare.ts";
import { secret } from "./helpers/secrets.ts";
import { installInto, packCopy, run, type Packed } from "./package/pack.ts";

const ROOT = join(import.meta.dirname, "..");
const SECRET = "package-test-shared-secret-0123456789";

let packed: Packed;
let app: string;

beforeAll(async () => {
  packed = await packCopy();
  app = mkdtempSync(join(tmpdir(), "turn-vend-app-"));
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  await installInto(app, [packed.tarball]);
}, 240_000);

afterAll(() => {
  for (const dir of [app, packed?.dir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("npm pack", () => {
  it("ships the compiled package, its types, the browser client and the CLI, and nothing else", () => {
    const { files } = packed;
    for (const wanted of [
      "package.json",
      "README.md",
      "LICENSE",
      "dist/package/index.js",
      "dist/package/index.d.ts",
      "dist/package/next.js",
      "dist/package/next.d.ts",
      "client/turn-client.d.ts",
      // The entry and every module it imports, so that `turn-vend/client` loads as installed.
      ...readdirSync(join(ROOT, "client"))
        .filter((name) => name.endsWith(".js"))
        .map((name) => `client/${name}`),
      "bin/turn-keys.js",
      "dist/cli/turn-keys.js",
      "bin/turn-probe.js",
      "dist/cli/probe.js",
    ]) {
      expect(files).toContain(wanted);
    }
    // Tests, benchmarks, CI, and the host template (deployed from the repository, not installed).
    const shippedRoots = new Set(files.map((file) => file.split("/")[0]));
    const allowedRoots = ["LICENSE", "README.md", "bin", "client", "dist", "package.json"];
    expect([...shippedRoots].filter((root) => !allowedRoots.includes(root))).toEqual([]);
    expect(files.filter((file) => /\.test\.|(^|\/)(test|bench|\.ci)\//.test(file))).toEqual([]);
    // JavaScript and declarations only: no TypeScript source for an app's toolchain to trip on.
    expect(files.filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))).toEqual([]);
  });

  it("keeps the core free of node: imports and the JWT and Redis libraries behind dynamic imports", () => {
    const installed = join(app, "node_modules/turn-vend");
    const core = packed.files.filter((file) => /^dist\/(shared|package|node)\/.*\.js$/.test(file));
    expect(core.length).toBeGreaterThan(20);
    for (const file of core) {
      const text = readFileSync(join(installed, file), "utf8");
      expect(text, file).not.toMatch(/from\s*["']node:/);
      expect(text, file).not.toMatch(/from\s*["'](jose|@redis\/client)["']/);
    }
    expect(readFileSync(join(installed, "dist/shared/access/auth.js"), "utf8")).toContain('import("jose")');
    expect(readFileSync(join(installed, "dist/node/redis-store.js"), "utf8")).toContain('import("@redis/client")');
  });
});

describe("the installed package, from plain Node ESM", () => {
  const script = `
    import { createHandler, vercelClientIp } from "turn-vend";
    import { getIceServers } from "turn-vend/client";
    const handler = createHandler({
      basePath: "/turn",
      env: { TURN_SHARED_SECRET: ${JSON.stringify(SECRET)}, TURN_URLS: "turn:turn.example.test:3478" },
      clientIp: vercelClientIp,
    });
    const answers = [];
    for (const [path, init] of [
      ["/turn?ttl=600", {}],
      ["/turn?ttl=0", {}],
      ["/api/ice-servers", {}],
      ["/turn", { method: "DELETE" }],
      ["/turn/revoke", { method: "POST", headers: { "content-type": "application/json" }, body: '{"revokeToken":"not-a-token"}' }],
    ]) {
      const response = await handler(new Request("http://app.test" + path, { ...init, headers: { "x-real-ip": "203.0.113.9", ...init.headers } }));
      answers.push({ status: response.status, body: await response.text(), limit: response.headers.get("ratelimit-limit") });
    }
    console.log(JSON.stringify({ answers, client: typeof getIceServers }));
  `;

  it("serves a request through createHandler, without jose or @redis/client installed", async () => {
    // Were either imported eagerly, the import below would fail: the app never uses them.
    rmSync(join(app, "node_modules/jose"), { recursive: true, force: true });
    rmSync(join(app, "node_modules/@redis"), { recursive: true, force: true });
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: app, env: { PATH: process.env.PATH } });
    const { answers, client } = JSON.parse(stdout) as { answers: { status: number; body: string; limit: string | null }[]; client: string };
    const [issued, badTtl, otherPath, badMethod, badRevoke] = answers;

    expect(issued.status).toBe(200);
    const body = JSON.parse(issued.body);
    expect(body.provider).toBe("shared-secret");
    expect(body.ttl).toBe(600);
    expect(body.iceServers[0]).toMatchObject({ urls: ["turn:turn.example.test:3478"] });
    expect(issued.limit).toBe("60");
    expect(issued.body).not.toContain(SECRET);

    expect([badTtl.status, JSON.parse(badTtl.body).error.code]).toEqual([400, "invalid_ttl"]);
    expect([otherPath.status, JSON.parse(otherPath.body).error.code]).toEqual([404, "not_found"]);
    expect(JSON.parse(otherPath.body).error.message).toContain("/turn");
    expect([badMethod.status, JSON.parse(badMethod.body).error.code]).toEqual([405, "method_not_allowed"]);
    // Routed to {basePath}/revoke, which needs REVOKE_SIGNING_SECRET before it reads a token.
    expect([badRevoke.status, JSON.parse(badRevoke.body).error.code]).toEqual([409, "not_revocable"]);
    expect(client).toBe("function");
  });

  it("counts every caller with its defaults, off any platform: anonymous ones and failed tokens share one allowance, said once", async () => {
    // No clientIp, no platform: before, nobody was counted, and guessing tokens was unlimited.
    // Each case in a process of its own, from plain Node as an app runs it, with a handler of its own.
    const statuses = async (extraEnv: Record<string, string>, count: number, headers: Record<string, string> = {}) => {
      const script = `
        import { createHandler } from "turn-vend";
        const lines = [];
        const log = { warn: (line) => lines.push(line), error: (line) => lines.push(line) };
        const env = { TURN_SHARED_SECRET: ${JSON.stringify(SECRET)}, TURN_URLS: "turn:turn.example.test:3478", RATE_LIMIT: "3/60s", ...${JSON.stringify(extraEnv)} };
        const handler = createHandler({ env, log });
        const statuses = [];
        for (let i = 1; i <= ${count}; i += 1) {
          // Headers a client could forge name nobody off the platforms that set them.
          const forged = "198.51.100." + i;
          const headers = { "x-real-ip": forged, "x-forwarded-for": forged, "x-nf-client-connection-ip": forged, "cf-connecting-ip": forged };
          const response = await handler(new Request("http://app.test/api/ice-servers", { headers: { ...headers, ...${JSON.stringify(headers)} } }));
          statuses.push(response.status);
        }
        console.log(JSON.stringify({ statuses, lines }));
      `;
      const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: app, env: { PATH: process.env.PATH } });
      return JSON.parse(stdout) as { statuses: number[]; lines: string[] };
    };
    const anonymous = await statuses({}, 6);
    expect(anonymous.statuses).toEqual([200, 200, 200, 429, 429, 429]);
    expect(anonymous.lines.filter((line) => line.includes("share one RATE_LIMIT allowance"))).toHaveLength(1);
    const guesses = await statuses({ AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: "b".repeat(40) }, 8, { authorization: "Bearer wrong" });
    expect(guesses.statuses).toEqual([401, 401, 401, 429, 429, 429, 429, 429]);
  });

  it("serves a same-origin POST from the app's own page by its Sec-Fetch-Site, and refuses another site's", async () => {
    const posts = `
      import { createHandler } from "turn-vend";
      const handler = createHandler({ env: { TURN_SHARED_SECRET: ${JSON.stringify(SECRET)}, TURN_URLS: "turn:turn.example.test:3478" }, log: { warn() {}, error() {} } });
      const post = (headers) => handler(new Request("https://app.test/api/ice-servers", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: '{"ttl":60}' }));
      const answers = [];
      for (const headers of [
        { origin: "https://app.test", "sec-fetch-site": "same-origin" },
        { origin: "https://evil.example", "sec-fetch-site": "cross-site" },
        { origin: "https://app.test" },
      ]) {
        const response = await post(headers);
        answers.push([response.status, response.status === 200 ? (await response.json()).ttl : (await response.json()).error.code]);
      }
      console.log(JSON.stringify(answers));
    `;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", posts], { cwd: app, env: { PATH: process.env.PATH } });
    expect(JSON.parse(stdout)).toEqual([
      [200, 60],
      [403, "origin_not_allowed"],
      // No Fetch Metadata: today's rules, under which an origin must be named.
      [403, "origin_not_allowed"],
    ]);
  });

  it("refuses a short TURN_SHARED_SECRET, hands out ICE URLs trimmed, and follows no provider's redirect", async () => {
    const keyId = "0f0e0d0c0b0a09080706050403020100";
    const apiToken = secret("package-cf-token-Secret-3Ed5Rf7Tg9Yh");
    const cloudflare = await startFakeCloudflare({ keyId, apiToken });
    const elsewhere = await startFakeCloudflare({ keyId, apiToken });
    try {
      const body = {
        iceServers: [
          { urls: [" stun:stun.example.test:3478 "] },
          { urls: ["\tturn:turn.example.test:3478 "], username: "u", credential: "c" },
        ],
      };
      cloudflare.queueFaults(
        { kind: "status", status: 201, headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
        { kind: "status", status: 307, headers: { location: `${elsewhere.apiBase}/turn/keys/${keyId}/credentials/generate-ice-servers` } },
      );
      const script = `
        import { createHandler } from "turn-vend";
        const log = { warn() {}, error() {} };
        const ask = async (env) => {
          const response = await createHandler({ env, log })(new Request("http://app.test/api/ice-servers"));
          return { status: response.status, body: await response.json() };
        };
        const cloudflare = { CLOUDFLARE_TURN_KEY_ID: ${JSON.stringify(keyId)}, CLOUDFLARE_TURN_KEY_API_TOKEN: ${JSON.stringify(apiToken)}, CLOUDFLARE_TURN_API_BASE: ${JSON.stringify(cloudflare.apiBase)} };
        console.log(JSON.stringify([
          await ask({ TURN_SHARED_SECRET: "s".repeat(31), TURN_URLS: "turn:turn.example.test:3478" }),
          await ask(cloudflare),
          await ask(cloudflare),
        ]));
      `;
      const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: app, env: { PATH: process.env.PATH } });
      const [short, trimmed, redirected] = JSON.parse(stdout);
      expect([short.status, short.body.error.code]).toEqual([500, "invalid_config"]);
      expect(short.body.error.message).toContain("TURN_SHARED_SECRET");
      expect(trimmed.status).toBe(200);
      expect(trimmed.body.iceServers.flatMap((server: { urls: string[] }) => server.urls)).toEqual([
        "stun:stun.example.test:3478",
        "turn:turn.example.test:3478",
      ]);
      // createHandler's default, the global fetch, would follow a 307 and send the body again.
      expect([redirected.status, redirected.body.error.code]).toEqual([502, "upstream_error"]);
      expect(cloudflare.requests).toHaveLength(2);
      expect(elsewhere.requests).toHaveLength(0);
    } finally {
      await Promise.all([cloudflare.close(), elsewhere.close()]);
    }
  });

  it("runs in Deno from the same install, reading Deno's environment by default", async () => {
    writeFileSync(
      join(app, "deno-check.mjs"),
      `import { createHandler } from "turn-vend";
       const response = await createHandler({ basePath: "/turn" })(new Request("http://app.test/turn?ttl=60"));
       console.log(JSON.stringify({ status: response.status, body: await response.json() }));`,
    );
    const deno = join(import.meta.dirname, "../node_modules/.bin/deno");
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, TURN_SHARED_SECRET: SECRET, TURN_URLS: "turn:turn.example.test:3478" };
    const { stdout } = await run(deno, ["run", "--allow-env", "--allow-read", "deno-check.mjs"], { cwd: app, env });
    const { status, body } = JSON.parse(stdout);
    expect([status, body.provider, body.ttl]).toEqual([200, "shared-secret", 60]);
  });

  it("runs the turn-keys CLI with plain node", async () => {
    const { stdout } = await run(join(app, "node_modules/.bin/turn-keys"), ["help"], { cwd: app, env: { PATH: process.env.PATH } });
    expect(stdout).toContain("Usage: turn-keys <command>");
  });

  it("runs the turn-probe CLI with plain node: its help, and exit 2 for an endpoint that is not there", async () => {
    const bin = join(app, "node_modules/.bin/turn-probe");
    const { stdout } = await run(bin, ["--help"], { cwd: app, env: { PATH: process.env.PATH } });
    expect(stdout).toContain("Usage: turn-probe <endpoint-url>");
    const failed = await run(bin, ["http://127.0.0.1:9/api/ice-servers", "--json"], { cwd: app, env: { PATH: process.env.PATH } }).catch(
      (error) => error,
    );
    expect(failed.code).toBe(2);
    expect(JSON.parse(failed.stdout)).toMatchObject({ error: { code: "unreachable" } });
  });

  // A whole tsc run over the declarations and @types/node: far past the default on a busy 2-core machine.
  it("type-checks an app's imports against the shipped declarations", { timeout: 90_000 }, async () => {
    writeFileSync(
      join(app, "check.ts"),
      `import { createHandler, netlifyClientIp, type CreateHandlerOptions } from "turn-vend";
       import { GET, POST, OPTIONS } from "turn-vend/next";
       import { getIceServers } from "turn-vend/client";
       const options: CreateHandlerOptions = { basePath: "/rtc", clientIp: netlifyClientIp, env: () => ({}) };
       const handler: (request: Request) => Promise<Response> = createHandler(options);
       export const all = [handler, GET, POST, OPTIONS, getIceServers];
      `,
    );
    const tsc = join(import.meta.dirname, "../node_modules/typescript/bin/tsc");
    // skipLibCheck off: the declarations themselves must check, with an app's strict settings.
    await run(
      process.execPath,
      [
        tsc,
        "--noEmit",
        "--strict",
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--lib",
        "es2023,dom",
        "--skipLibCheck",
        "false",
        "check.ts",
      ],
      { cwd: app },
    ).catch((error) => {
      throw new Error(`tsc failed:\n${error.stdout}${error.stderr}`);
    });
  });
});
