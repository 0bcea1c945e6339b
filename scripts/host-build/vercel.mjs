/**
 * Vercel's build command (vercel.json `buildCommand`): writes the deployment in Vercel's Build Output
 * API (v3) in .vercel/output, which `vercel build` and Vercel's remote build then take as it is.
 * - functions/: one function, vercel/ice-servers.ts bundled by esbuild into one minified ESM file with
 *   valibot inlined, and jose and @redis/client in chunks loaded only when a request needs them (a JWT
 *   to verify, REDIS_URL set). Each route is a .func of its own, the later ones links to the first, as
 *   `vercel build` itself writes a function shared by several paths: one function, deployed once.
 * - static/: public/, as Vercel serves it without a build step.
 * Left to @vercel/node (a file under api/), the function compiles and loads each of our files one by one
 * plus valibot's whole package on every cold start (see docs/architecture.md, "What Vercel ships").
 * Usage: node scripts/host-build/vercel.mjs
 */
import { build } from "esbuild";
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");
const output = join(root, ".vercel/output");

/** The paths the function answers: the core's routes (shared/handle.ts), which it tells apart by path. */
const ROUTES = ["/api/ice-servers", "/api/ice-servers/revoke", "/api/ice-servers/turn-rest"];
const ENTRY = "vercel/ice-servers.ts";
const HANDLER = "index.mjs";

/** Vercel's Node majors, newest first: Vercel runs the newest that package.json's engines allows. */
const VERCEL_NODE_MAJORS = [24, 22, 20];

/**
 * The newest of Vercel's majors inside engines.node, read as `>=A[.b.c] <B`: the one shape package.json
 * uses; any other throws, so that a change there cannot silently ship another Node than Vercel's choice.
 */
export function nodeRuntime(range) {
  const bounds = /^>=\s*(\d+)(?:\.\d+){0,2}\s+<\s*(\d+)(?:\.0){0,2}$/.exec(range?.trim() ?? "");
  if (!bounds) throw new Error(`package.json engines.node "${range}" is not of the form ">=A.b.c <B"`);
  const major = VERCEL_NODE_MAJORS.find((candidate) => candidate >= Number(bounds[1]) && candidate < Number(bounds[2]));
  if (!major) throw new Error(`Vercel runs none of its Node majors (${VERCEL_NODE_MAJORS.join(", ")}) inside "${range}"`);
  return `nodejs${major}.x`;
}

const engines = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).engines;

/** What `vercel build` writes for a function of @vercel/node, for a web-standard handler in one bundled file. */
const FUNCTION_CONFIG = {
  handler: HANDLER,
  runtime: nodeRuntime(engines?.node),
  launcherType: "Nodejs",
  architecture: "x86_64",
  // Above the 9 s default budget for provider calls (docs/configuration.md).
  maxDuration: 15,
  // Vercel's helpers (req.query, res.json…) serve the (req, res) signature; ours is Request in, Response out.
  shouldAddHelpers: false,
  // Minified: a stack trace in the function's log names the bundle's lines; the core logs no stack to a caller.
  shouldAddSourcemapSupport: false,
};

rmSync(output, { recursive: true, force: true });
const [first, ...others] = ROUTES.map((route) => join(output, "functions", `${route.slice(1)}.func`));

await build({
  entryPoints: { index: join(root, ENTRY) },
  outdir: first,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  // The chunks behind import(): a cold start parses only what the first request needs.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  format: "esm",
  platform: "node",
  // The oldest Node we run on (package.json's engines); Vercel runs 22.
  target: "node20",
  minify: true,
  // @redis/client is CommonJS: its require() of Node's modules needs a require in an ES module.
  banner: { js: 'import{createRequire as __cr}from"node:module";const require=__cr(import.meta.url);' },
  external: ["node:*"],
  logLevel: "warning",
});
writeFileSync(join(first, ".vc-config.json"), `${JSON.stringify(FUNCTION_CONFIG, null, 2)}\n`);
for (const func of others) {
  mkdirSync(dirname(func), { recursive: true });
  symlinkSync(relative(dirname(func), first), func, "dir");
}

cpSync(join(root, "public"), join(output, "static"), { recursive: true });
// No routes of ours: each file answers at its own path, and `vercel build` adds its own 404 route.
writeFileSync(join(output, "config.json"), `${JSON.stringify({ version: 3 }, null, 2)}\n`);
console.log(`Vercel Build Output written to ${relative(root, output)}: ${ROUTES.join(", ")}`);
