/**
 * The framework recipes of docs/frameworks.md, proven: SvelteKit with adapter-node, Astro with
 * @astrojs/node and Hono on @hono/node-server, each made of exactly the files the page shows
 * (test/frameworks/recipes.ts reads them), with the packed package. One npm install serves the
 * three (npm workspaces, exact versions), each app is built with its framework's own build and
 * started as its docs say, on 127.0.0.1, then held to the contract of every entry point and to
 * the rate limit and own-page rules of test/frameworks/app-limits.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import type { ContractCase } from "./contract/cases.ts";
import { describeContract } from "./contract/vitest-suite.ts";
import { describeAppLimits, type RunningApp } from "./frameworks/app-limits.ts";
import { recipe } from "./frameworks/recipes.ts";
import { freePort, spawnLogged, waitForHttp } from "./helpers/process.ts";
import { installInto, packCopy, run } from "./package/pack.ts";

interface App {
  /** The `### ` heading of its recipe in docs/frameworks.md. */
  heading: string;
  dir: string;
  /** What the framework's own starter holds besides the recipe's files. */
  starter?: Record<string, string>;
  /** The build, a binary of node_modules/.bin; none for an app run from source. */
  build?: string[];
  /** The command that serves the app (HOST and PORT come from the environment). */
  start: string[];
  /** How its recipe counts callers (see test/frameworks/app-limits.ts). */
  counts: "per-caller" | "shared";
  /** Cases the framework answers before the route runs, and why. */
  skip?: { when: (testCase: ContractCase) => boolean; why: string };
  /** The framework's own answer to a //host/… request-target, which never reaches the route. */
  strayTargetStatus?: number;
}

// Contract cases that POST a form's content type with no Origin: a framework's CSRF check refuses them first.
const FORM_LIKE_POST = /^bad input: POST (text\/plain|form data) /;

const APPS: App[] = [
  {
    heading: "SvelteKit with adapter-node",
    dir: "sveltekit",
    starter: {
      "vite.config.js":
        'import { sveltekit } from "@sveltejs/kit/vite";\nimport { defineConfig } from "vite";\n\nexport default defineConfig({ plugins: [sveltekit()] });\n',
      "src/app.html": "<!doctype html>\n<html><head>%sveltekit.head%</head><body><div>%sveltekit.body%</div></body></html>\n",
      "src/routes/+page.svelte": "<h1>An app</h1>\n",
    },
    build: ["vite", "build"],
    start: ["node", "build"],
    counts: "per-caller",
    skip: {
      when: (testCase) => testCase.hostileTarget === true || testCase.formPost === true || FORM_LIKE_POST.test(testCase.name),
      why: "SvelteKit answers //host/… targets, and a form-like POST without the app's Origin (its CSRF check: a TURN REST API consumer uses GET there), before the route runs",
    },
    strayTargetStatus: 404,
  },
  {
    heading: "Astro with @astrojs/node",
    dir: "astro",
    build: ["astro", "build"],
    start: ["node", "dist/server/entry.mjs"],
    counts: "shared",
    skip: {
      when: (testCase) =>
        testCase.hostileTarget === true ||
        testCase.formPost === true ||
        FORM_LIKE_POST.test(testCase.name) ||
        /^(bad input: (PUT|DELETE) |POST with an empty body|TURN REST API: (PUT|DELETE) )/.test(testCase.name),
      why: "Astro answers //host/… targets, and a form-like or Content-Type-less POST, PUT or DELETE without the app's Origin (its checkOrigin: a TURN REST API consumer uses GET there), before the route runs",
    },
    strayTargetStatus: 404,
  },
  {
    heading: "Hono on @hono/node-server",
    dir: "hono",
    start: ["node", "server.mjs"],
    counts: "per-caller",
    skip: { when: (testCase) => testCase.hostileTarget === true, why: "Hono routes no //host/… target to the app" },
    strayTargetStatus: 404,
  },
];

// Only what an app's own processes would have: no test runner environment, no telemetry.
const BASE_ENV = { PATH: process.env.PATH, HOME: process.env.HOME, ASTRO_TELEMETRY_DISABLED: "1" };

let root: string;
let packDir: string | undefined;
const timings: string[] = [];

async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  timings.push(`${what} ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

beforeAll(async () => {
  const { dir, tarball } = await timed("pack", packCopy);
  packDir = dir;
  root = mkdtempSync(join(tmpdir(), "turn-vend-frameworks-"));
  writeFileSync(
    join(root, "package.json"),
    JSON.stringify({ name: "apps", private: true, workspaces: APPS.map((app) => app.dir) }, null, 2),
  );
  for (const app of APPS) {
    // The page's files and exact versions, so that the proof is the page's and does not move under us.
    const { files: recipeFiles, dependencies } = recipe(app.heading);
    const files = { ...app.starter, ...Object.fromEntries(recipeFiles) };
    const pkg = {
      name: `${app.dir}-app`,
      private: true,
      type: "module",
      dependencies: { "turn-vend": `file:${tarball}`, ...dependencies },
    };
    files["package.json"] = JSON.stringify(pkg, null, 2);
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(root, app.dir, path)), { recursive: true });
      writeFileSync(join(root, app.dir, path), content);
    }
  }
  await timed("install", () => installInto(root, []));
  for (const app of APPS) {
    if (!app.build) continue;
    const [bin, ...args] = app.build;
    await timed(`${app.dir} build`, () =>
      run(join(root, "node_modules/.bin", bin), args, { cwd: join(root, app.dir), env: BASE_ENV, maxBuffer: 16 * 1024 * 1024 }).catch(
        (error) => {
          throw new Error(`${app.heading}: ${app.build!.join(" ")} failed:\n${error.stdout}${error.stderr}`);
        },
      ),
    );
  }
}, 600_000);

// File-level hooks run after every suite's own.
afterAll(() => {
  console.log(`framework recipes: ${timings.join(", ")}`);
  for (const dir of [root, packDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

async function startApp(app: App, env: Record<string, string>): Promise<RunningApp> {
  const port = await freePort();
  const [command, ...args] = app.start;
  const server = spawnLogged(command, args, { ...BASE_ENV, ...env, HOST: "127.0.0.1", PORT: String(port) }, join(root, app.dir));
  const origin = `http://127.0.0.1:${port}`;
  // Any answer from a page outside the route: nothing is counted before the tests.
  await waitForHttp(`${origin}/`, 60_000, server);
  return { origin, stop: () => server.stop() };
}

for (const app of APPS) {
  describeContract(
    `${app.heading}, built from docs/frameworks.md`,
    async (env) => {
      const running = await startApp(app, env);
      return { send: (path, init) => fetch(`${running.origin}${path}`, init), close: running.stop };
    },
    { skip: app.skip },
  );
  describeAppLimits(app.heading, (env) => startApp(app, env), { counts: app.counts, strayTargetStatus: app.strayTargetStatus });
}
