/**
 * The Next.js proof: the packed package installed into a fresh Next.js 16 App Router app
 * (React 19) whose only route file is the documented one-liner, built with `next build`,
 * served by `next start` on 127.0.0.1, and held to the same contract as every entry point.
 * The app's dependencies are installed here, into a temporary folder, not into this package.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTRACT_TOKEN } from "./contract/cases.ts";
import { describeContract } from "./contract/vitest-suite.ts";
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
const ROUTE = 'export { GET, POST, OPTIONS } from "turn-vend/next";\n';
// Only what an app's own processes would have: no test runner environment, no telemetry.
const BASE_ENV = { PATH: process.env.PATH, HOME: process.env.HOME, NEXT_TELEMETRY_DISABLED: "1" };

let app: string;
let packDir: string | undefined;
let next: Spawned | undefined;

beforeAll(async () => {
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

describeContract(
  "Next.js 16 App Router app with the turn-vend/next route, under next start",
  async (env) => {
    const port = await freePort();
    next = spawnLogged(
      join(app, "node_modules/.bin/next"),
      ["start", "--hostname", "127.0.0.1", "--port", String(port)],
      { ...BASE_ENV, ...env },
      app,
    );
    const origin = `http://127.0.0.1:${port}`;
    await waitForHttp(`${origin}/api/ice-servers?ttl=abc`, 60_000, next);
    return {
      send: (path, init) => fetch(`${origin}${path}`, init),
      close: () => next!.stop(),
    };
  },
  {
    // The route exports GET, POST and OPTIONS, as the README's one-liner does: Next.js answers any
    // other method itself (an empty 405, pinned below), and routes no //host/… target to the app.
    skip: {
      when: (testCase) => testCase.hostileTarget === true || /^(bad input|TURN REST API): (PUT|DELETE) /.test(testCase.name),
      why: "Next.js answers methods the route does not export, and //host/… targets, itself",
    },
  },
);

describe("Next.js in front of the route", () => {
  let own: Spawned | undefined;
  let origin = "";

  beforeAll(async () => {
    const port = await freePort();
    own = spawnLogged(join(app, "node_modules/.bin/next"), ["start", "--hostname", "127.0.0.1", "--port", String(port)], BASE_ENV, app);
    origin = `http://127.0.0.1:${port}`;
    await waitForHttp(`${origin}/api/ice-servers?ttl=abc`, 60_000, own);
  }, 90_000);

  afterAll(() => own?.stop());

  it("answers the methods the route does not export with its own 405, and HEAD through the route's GET", async () => {
    for (const method of ["PUT", "DELETE", "PATCH"]) {
      expect((await fetch(`${origin}/api/ice-servers`, { method })).status, method).toBe(405);
    }
    // Next.js hands HEAD to GET; the core refuses it as it does on every host.
    const head = await fetch(`${origin}/api/ice-servers`, { method: "HEAD" });
    expect([head.status, head.headers.get("allow")]).toEqual([405, "GET, POST, OPTIONS"]);
  });

  it("routes no //host/… request-target to the app", async () => {
    const answer = await fetch(`${origin}//evil.example/api/ice-servers`, { headers: { origin: "https://evil.example" } });
    expect(answer.status).toBe(404);
    expect(answer.headers.get("access-control-allow-origin")).toBeNull();
  });
});

// Runs after the contract: by then every upstream fault has been logged.
it("next start never printed the API token", () => {
  // The 401 case logs an operator hint: seeing it proves the route's log is what is scanned.
  expect(next?.output()).toContain("OPERATOR: Cloudflare refused our credentials");
  expect(next!.output()).not.toContain(CONTRACT_TOKEN);
});
