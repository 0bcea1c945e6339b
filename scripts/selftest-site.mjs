// Assembles the self-test page into one folder for a static deploy (opt-in, see
// docs/selftest.md): index.html, selftest.js, negotiate.js and the client's modules (turn-client.js and
// the siblings it imports), side by side as the page expects.
// Usage: node scripts/selftest-site.mjs [out-dir]   (default: selftest-site/)
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = resolve(process.argv[2] ?? join(root, "selftest-site"));

// Keep in step with STATIC_FILES in server/static.ts (a test checks that they agree).
const FILES = {
  "index.html": "selftest/index.html",
  "selftest.js": "selftest/selftest.js",
  "negotiate.js": "selftest/negotiate.js",
};
for (const name of readdirSync(join(root, "client"))) if (name.endsWith(".js")) FILES[name] = `client/${name}`;

mkdirSync(out, { recursive: true });
for (const [name, source] of Object.entries(FILES)) copyFileSync(join(root, source), join(out, name));
console.log(`self-test page assembled in ${out}`);
