/**
 * The docs stay honest: every relative link and #anchor in README.md and docs/*.md
 * resolves, the error table lists exactly the codes and statuses the service answers
 * with, .env.example names every documented variable, and no shell example leaves a
 * URL with "?" unquoted (zsh would expand it).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_STATUS } from "../shared/errors.ts";

const ROOT = resolve(import.meta.dirname, "..");
const PAGES = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`),
];

const read = (page: string) => readFileSync(join(ROOT, page), "utf8");

/** The text outside fenced code blocks, line by line (a link inside a fence is code, not a link). */
function prose(text: string): string[] {
  let fenced = false;
  return text.split("\n").filter((line) => {
    if (line.startsWith("```")) fenced = !fenced;
    return !fenced && !line.startsWith("```");
  });
}

/** The lines inside ```sh fences. */
function shellLines(text: string): string[] {
  const lines: string[] = [];
  let shell = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("```")) shell = !shell && line.trim() === "```sh";
    else if (shell) lines.push(line);
  }
  return lines;
}

/** Heading anchors as GitHub makes them: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(text)) {
    const heading = /^#{1,6} (.*)$/.exec(line);
    if (!heading) continue;
    const slug = heading[1]
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    out.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return out;
}

/** Link targets of [text](target) and ![alt](target), outside code spans. */
function links(text: string): string[] {
  const targets: string[] = [];
  for (const line of prose(text)) {
    const withoutCode = line.replace(/`[^`]*`/g, "");
    for (const match of withoutCode.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)) targets.push(match[1]);
  }
  return targets;
}

describe("docs", () => {
  it.each(PAGES)("%s: every relative link and anchor resolves", (page) => {
    const broken: string[] = [];
    for (const target of links(read(page))) {
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto: — outside the repository
      const [path, anchor] = target.split("#");
      const file = path === "" ? page : relative(ROOT, resolve(ROOT, dirname(page), path));
      if (!existsSync(join(ROOT, file))) {
        broken.push(`${target} (no ${file})`);
        continue;
      }
      if (anchor !== undefined && (!file.endsWith(".md") || !anchors(read(file)).has(anchor))) {
        broken.push(`${target} (no #${anchor} in ${file})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("links every docs page from the README", () => {
    const linked = new Set(links(read("README.md")).map((target) => target.split("#")[0]));
    expect(PAGES.filter((page) => page !== "README.md" && !linked.has(page))).toEqual([]);
  });

  it.each(PAGES)("%s: shell examples quote every URL with a query", (page) => {
    const unquoted = shellLines(read(page)).filter((line) =>
      [...line.matchAll(/https?:\/\/\S*\?/g)].some((match) => !/["']/.test(line[(match.index ?? 0) - 1] ?? "")),
    );
    expect(unquoted).toEqual([]);
  });

  it(".env.example names every variable the configuration and turn-keys pages list", () => {
    const listed = new Set<string>();
    for (const page of ["docs/configuration.md", "docs/turn-keys.md"]) {
      for (const line of prose(read(page))) {
        const firstCell = /^\| ([^|]+) \|/.exec(line)?.[1] ?? "";
        for (const name of firstCell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) listed.add(name[1]);
      }
    }
    const example = read(".env.example");
    expect(listed.size).toBeGreaterThan(30);
    expect([...listed].filter((name) => !new RegExp(`^(# )?${name}=`, "m").test(example))).toEqual([]);
  });

  it("the error table lists every error code with its status, and nothing else", () => {
    const text = read("docs/http-api.md");
    const section = text.slice(text.indexOf("\n## Errors\n"));
    expect(section.length).toBeLessThan(text.length);
    const table: Record<string, number> = {};
    for (const line of section.split("\n")) {
      const row = /^\| (\d{3}) \| ([^|]+) \|/.exec(line);
      if (!row) continue;
      for (const code of row[2].matchAll(/`([a-z_]+)`/g)) table[code[1]] = Number(row[1]);
    }
    expect(table).toEqual({ ...ERROR_STATUS });
  });
});
