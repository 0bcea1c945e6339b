/**
 * Netlify's build command (netlify.toml): bundles the Node function (functions/ice-servers.mts) into
 * one file in the folder netlify.toml names as the functions directory, which Netlify then zips and
 * ships instead of the source. Left to itself, Netlify ships our code as one unminified file beside
 * valibot's whole package, each loaded on a cold start (see docs/architecture.md, "What Netlify ships").
 * Usage: node scripts/host-build/netlify.mjs
 */
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { bundleFunction } from "./bundle.mjs";

const root = resolve(import.meta.dirname, "../..");
const out = join(root, ".netlify/bundled-functions");

rmSync(out, { recursive: true, force: true });
await bundleFunction({
  entry: join(root, "functions/ice-servers.mts"),
  outfile: join(out, "ice-servers.mjs"),
  // Imported only when a request needs them (a JWT to verify, REDIS_URL set): Netlify's tracer
  // puts them in the zip beside the function.
  external: ["jose", "@redis/client"],
});
console.log(`Netlify function bundled into ${out}`);
