/**
 * Vercel's build command (vercel.json `buildCommand`): writes the deployment in Vercel's Build Output
 * API (v3) in .vercel/output, which `vercel build` and Vercel's remote build then take as it is.
 * - functions/: one function, vercel/ice-servers.ts bundled by esbuild into one minified ESM file with
 *   valibot inlined, and jose and @redis/client each in a file of its own loaded only when a request
 *   needs it (a JWT to verify, REDIS_URL set). Each route has its .func, the others linking to the
 *   first, as `vercel build` itself links a function shared by several paths: it is deployed once.
 * - static/: public/, or the folder given as the argument (the self-test page, docs/selftest.md).
 * Left to @vercel/node (a file under api/), the function compiles and loads each of our files one by one
 * plus valibot's whole package on every cold start (see docs/architecture.md, "What Vercel ships").
 * Usage: node scripts/host-build/vercel.mjs [static-folder]   (default: public)
 */
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { bundleFunction, bundlePackagesInto } from "./bundle.mjs";

const root = resolve(import.meta.dirname, "../..");
const output = join(root, ".vercel/output");
const staticFolder = resolve(root, process.argv[2] ?? "public");

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
function nodeRuntime(range) {
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

// jose and @redis/client each in a file beside the handler: nothing is traced into a Build Output
// function, so nothing resolves from node_modules there.
await bundleFunction({ entry: join(root, ENTRY), outfile: join(first, HANDLER) });
await bundlePackagesInto(first);
writeFileSync(join(first, ".vc-config.json"), `${JSON.stringify(FUNCTION_CONFIG, null, 2)}\n`);
for (const func of others) {
  mkdirSync(dirname(func), { recursive: true });
  symlinkSync(relative(dirname(func), first), func, "dir");
}

cpSync(staticFolder, join(output, "static"), { recursive: true });
// No routes of ours: each file answers at its own path, and `vercel build` adds its own 404 route.
writeFileSync(join(output, "config.json"), `${JSON.stringify({ version: 3 }, null, 2)}\n`);
console.log(`Vercel Build Output written to ${relative(root, output)}: ${ROUTES.join(", ")}`);
