/**
 * The framework recipes as docs/frameworks.md gives them: under each `### ` heading of its
 * "Recipes built by the tests", every "`path`:" line followed by a code block is one file of
 * the app, and the `name@version` packages of its "Tested with" sentence are its dependencies.
 * The tests build exactly these, so the page cannot drift from what is proven.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

const PAGE = resolve(import.meta.dirname, "../../docs/frameworks.md");
const SECTION = "## Recipes built by the tests";
const FILE = /^`([^`\n]+)`:\n\n```[a-z]*\n([\s\S]*?)^```$/gm;
const TESTED_WITH = /^Tested with [\s\S]*?\.$/m;
const PACKAGE = /`((?:@[\w.-]+\/)?[\w.-]+)@(\d[\w.-]*)`/g;

export interface Recipe {
  heading: string;
  /** Path inside the app → content. */
  files: Map<string, string>;
  /** Package name → exact version. */
  dependencies: Record<string, string>;
}

/** The recipe under `### {heading}`; throws when the page has no such recipe, or one without files. */
export function recipe(heading: string): Recipe {
  const page = readFileSync(PAGE, "utf8");
  const built = page.slice(page.indexOf(SECTION)).split(/^## /m)[1] ?? "";
  const section = built.split(/^### /m).find((part) => part.startsWith(`${heading}\n`));
  if (!section || !page.includes(SECTION)) throw new Error(`docs/frameworks.md has no recipe "### ${heading}" under "${SECTION}"`);
  const files = new Map([...section.matchAll(FILE)].map((match): [string, string] => [match[1], match[2]]));
  if (files.size === 0) throw new Error(`the recipe "${heading}" in docs/frameworks.md names no file`);
  const tested = TESTED_WITH.exec(section)?.[0] ?? "";
  const dependencies = Object.fromEntries([...tested.matchAll(PACKAGE)].map((match) => [match[1], match[2]]));
  if (Object.keys(dependencies).length === 0)
    throw new Error(`the recipe "${heading}" in docs/frameworks.md says no "Tested with" versions`);
  return { heading, files, dependencies };
}
