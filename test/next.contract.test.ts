/**
 * The Next.js proof: the packed package installed into a fresh Next.js 16 App Router app
 * (React 19) whose only route file is the documented one-liner, built with `next build`,
 * served by `next start` on 127.0.0.1, and held to the same contract as every entry point and
 * to the rate-limit and own-page checks of the framework recipes (test/frameworks/app-limits.ts).
 * The app's dependencies are installed here, into a temporary folder, not into this package.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTRACT_TOKEN } from "./contract/cases.ts";
import { describeContract } from "./contract/vitest-suite.ts";
import { describeAppLimits } from "./frameworks/app-limits.ts";
import { freePort, spawnLogged, waitForHttp, type Spawned } from "./helpers/process.ts";
import { installInto, packCopy, run } from "./package/pack.ts";

// Exact versions, so the proof does not move under us; Next's SWC binary comes as its optional dependency.
const APP_DEPENDENCIES = [
  "next@16.4.6",
  "react@19.3.1",
  "react-dom@19.3.1",
  "typescript@5.9.3",
  "@types/react@19.3.3",
  "@types/node@20.19.43",
];
// The README's one-liner, read from the README: every method Next.js routes to a route handler.
const ROUTE = `${/^export .* from "turn-vend\/next";$/m.exec(readFileSync(join(import.meta.dirname, "../README.md"), "utf8"))?.[0]}\n`;
// Only what an app's own processes would have: no test runner environment, no telemetry.
const BASE_ENV = { PATH: process.env.PATH, HOME: process.env.HOME, NEXT_TELEMETRY_DISABLED: "1" };

let app: string;
let packDir: string | undefined;
let next: Spawned | undefined;

beforeAll(async () => {
  expect(ROUTE).toContain("DELETE");
  const { dir, tarball } = await packCopy();
  packDir = dir;
  app = mkdtempSync(join(tmpdir(), "turn-vend-next-"));
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "next-app", private: true, scripts: {} }, null, 2));
  mkdirSync(join(app, "app/api/ice-servers/[[...slug]]"), { recursive: true });
  writeFileSync(join(app, "app/api/ice-servers/[[...slug]]/route.ts"), ROUTE);
  await installInto(app, [tarball, ...APP_DEPENDENCIES]);
  await run(join(app, "node_modules/.bin/next"), ["build"], { cwd: app, env: BASE_ENV, maxBuffer: 16 * 1024 * 1024 }).catch((error) => {
    throw new Error(`next build failed:\n${error.stdout}${error.stderr}`);
  });
}, 600_000);

// After every suite of the file, next start's included (vitest runs file-level afterAll last).
afterAll(() => {
  for (const dir of [app, packDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `next start` on a free port of 127.0.0.1 with `env`, once the route answers. */
async function startNext(env: Record<string, string>): Promise<{ origin: string; server: Spawned }> {
  const port = await freePort();
  const server = spawnLogged(
    join(app, "node_modules/.bin/next"),
    ["start", "--hostname", "127.0.0.1", "--port", String(port)],
    { ...BASE_ENV, ...env },
    app,
  );
  const origin = `http://127.0.0.1:${port}`;
  // Any answer from a page outside the route: nothing is counted before the tests.
  await waitForHttp(`${origin}/`, 60_000, server);
  return { origin, server };
}

describeContract(
  "Next.js 16 App Router app with the turn-vend/next route, under next start",
  async (env) => {
    const { origin, server } = await startNext(env);
    next = server;
    return {
      send: (path, init) => fetch(`${origin}${path}`, init),
      close: () => next!.stop(),
    };
  },
  {
    // Next.js routes no //host/… request-target to the app (pinned below).
    skip: {
      when: (testCase) => testCase.hostileTarget === true,
      why: "Next.js answers //host/… targets itself",
    },
  },
);

describe("Next.js in front of the route", () => {
  let own: Spawned | undefined;
  let origin = "";

  beforeAll(async () => {
    ({ origin, server: own } = await startNext({}));
  }, 90_000);

  afterAll(() => own?.stop());

  it("answers every other method with the core's JSON 405, HEAD included", async () => {
    for (const method of ["PUT", "DELETE", "PATCH", "HEAD"]) {
      const answer = await fetch(`${origin}/api/ice-servers`, { method });
      expect([method, answer.status, answer.headers.get("allow")]).toEqual([method, 405, "GET, POST, OPTIONS"]);
      if (method !== "HEAD") expect((await answer.json()).error.code).toBe("method_not_allowed");
    }
  });

  it("routes no //host/… request-target to the app", async () => {
    const answer = await fetch(`${origin}//evil.example/api/ice-servers`, { headers: { origin: "https://evil.example" } });
    expect(answer.status).toBe(404);
    expect(answer.headers.get("access-control-allow-origin")).toBeNull();
  });
});

// Off Vercel, Netlify and Cloudflare nothing names the client to the route: one allowance for the app.
describeAppLimits(
  "Next.js with the turn-vend/next route",
  async (env) => {
    const { origin, server } = await startNext(env);
    return { origin, stop: () => server.stop() };
  },
  { counts: "shared" },
);

// Runs after the contract: by then every upstream fault has been logged.
it("next start never printed the API token", () => {
  // The 401 case logs an operator hint: seeing it proves the route's log is what is scanned.
  expect(next?.output()).toContain("OPERATOR: Cloudflare refused our credentials");
  expect(next!.output()).not.toContain(CONTRACT_TOKEN);
});
