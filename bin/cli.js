// Runs one of the package's CLIs: the build in dist/ where there is one (the installed package),
// else, in a checkout of the repository where dist/ is not built, its TypeScript source through
// tsx, a dev dependency of the repository.
import { existsSync } from "node:fs";

/** `file` is the CLI's name in cli/ (and dist/cli/), `name` the command a user typed. */
export async function runCli(file, name) {
  const built = new URL(`../dist/cli/${file}.js`, import.meta.url);
  if (existsSync(built)) return import(built.href);
  let register;
  try {
    ({ register } = await import("tsx/esm/api"));
  } catch {
    process.stderr.write(`${name}: dist/ is not built and tsx is not installed: run npm ci (or npm run build:package) first\n`);
    process.exit(1);
  }
  register();
  return import(new URL(`../cli/${file}.ts`, import.meta.url).href);
}
