// npm run build:package (and prepack): the package's JavaScript and .d.ts in dist/, from
// tsconfig.build.json. tsc rewrites the `.ts` specifiers of the JavaScript it emits
// (rewriteRelativeImportExtensions) but not those of the declarations, which an app's
// TypeScript would then look for as .ts sources that the package does not ship.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const dist = join(root, "dist");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });

const RELATIVE_TS = /((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']+)\.ts(["'])/g;
for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith(".d.ts")) continue;
  const file = join(entry.parentPath, entry.name);
  const text = readFileSync(file, "utf8");
  const rewritten = text.replace(RELATIVE_TS, "$1$2.js$3");
  if (rewritten !== text) writeFileSync(file, rewritten);
}
