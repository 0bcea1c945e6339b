/**
 * Netlify's build command (netlify.toml): bundles each Node function in functions/ into one file in
 * .netlify/bundled-functions/, the functions directory netlify.toml names, with jose and @redis/client
 * in lazy/ beside them, which Netlify zips and ships as they are (`node_bundler = "none"`). Left to
 * itself, Netlify ships our code as one unminified module beside valibot's whole package, each loaded
 * on a cold start; given our file, it still prints it again unminified (docs/architecture.md, "What
 * Netlify ships").
 * Usage: node scripts/host-build/netlify.mjs
 */
import { readdirSync, rmSync } from "node:fs";
import { join, parse, resolve } from "node:path";
import { bundleFunction, bundlePackagesInto } from "./bundle.mjs";

const root = resolve(import.meta.dirname, "../..");
const source = join(root, "functions");
const out = join(root, ".netlify/bundled-functions");

rmSync(out, { recursive: true, force: true });
for (const file of readdirSync(source).filter((name) => /\.m?[jt]s$/.test(name))) {
  // Each keeps its name: Netlify names a function after its file.
  await bundleFunction({ entry: join(source, file), outfile: join(out, `${parse(file).name}.mjs`) });
}
// One folder of packages for every function; netlify.toml's included_files puts it in each zip.
await bundlePackagesInto(out);
console.log(`Netlify functions bundled into ${out}`);
