/**
 * Netlify's build command (netlify.toml): bundles each Node function in functions/ into one file in
 * .netlify/bundled-functions/, the functions directory netlify.toml names, which Netlify then zips
 * and ships instead of the source. Left to itself, Netlify ships our code as one unminified module
 * beside valibot's whole package, each loaded on a cold start (docs/architecture.md, "What Netlify ships").
 * Usage: node scripts/host-build/netlify.mjs
 */
import { readdirSync, rmSync } from "node:fs";
import { join, parse, resolve } from "node:path";
import { bundleFunction } from "./bundle.mjs";

const root = resolve(import.meta.dirname, "../..");
const source = join(root, "functions");
const out = join(root, ".netlify/bundled-functions");

rmSync(out, { recursive: true, force: true });
for (const file of readdirSync(source).filter((name) => /\.m?[jt]s$/.test(name))) {
  // Each keeps its name: Netlify names a function after its file. jose and @redis/client stay
  // imports run on demand; Netlify's tracer puts them in the zip beside the function.
  await bundleFunction({ entry: join(source, file), outfile: join(out, `${parse(file).name}.mjs`) });
}
console.log(`Netlify functions bundled into ${out}`);
