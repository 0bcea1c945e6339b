/**
 * `npm pack` as a publisher runs it, from a copy of the repository (its node_modules linked),
 * so that test files packing at the same time, or the hosts' builds, never see each other's
 * dist/. The copy leaves out what git ignores, so a stale dist/ cannot slip into the tarball.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { promisify } from "node:util";

export const ROOT = resolve(import.meta.dirname, "../..");
const LEFT_OUT = new Set(["node_modules", ".git", "dist", ".netlify", ".vercel", "test-results", "selftest-site", ".env"]);

export const run = promisify(execFile);

export interface Packed {
  /** The copy the tarball was packed in and lies in: remove it when done. */
  dir: string;
  tarball: string;
  /** The paths `npm pack` put in it, as it lists them. */
  files: string[];
}

export async function packCopy(): Promise<Packed> {
  const copy = mkdtempSync(join(tmpdir(), "turn-vend-pack-"));
  cpSync(ROOT, copy, { recursive: true, filter: (source) => source === ROOT || !LEFT_OUT.has(basename(source)) });
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"), "dir");
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", copy], { cwd: copy, maxBuffer: 16 * 1024 * 1024 });
  const [report] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
  return { dir: copy, tarball: join(copy, report.filename), files: report.files.map((file) => file.path) };
}

/** `npm install` of the tarball and `extra` into `dir`, from the registry or npm's cache. */
export async function installInto(dir: string, specs: string[]): Promise<void> {
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...specs], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
}
