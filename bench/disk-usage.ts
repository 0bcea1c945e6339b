/** Bytes on disk of a built artefact's folder: every regular file, node_modules included. */
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

export interface DiskUsage {
  /** Every regular file's size, summed (no directory blocks). */
  bytes: number;
  files: number;
  nodeModulesBytes: number;
  /** Each package in node_modules, and each top-level file or folder outside it, largest first. */
  parts: { from: string; bytes: number }[];
}

function* filesUnder(dir: string, prefix = ""): Generator<{ path: string; bytes: number }> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) yield* filesUnder(join(dir, entry.name), path);
    else if (entry.isFile()) yield { path, bytes: lstatSync(join(dir, entry.name)).size };
  }
}

/** A nested node_modules counts towards the top-level package that brought it. */
const partOf = (path: string) => /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? path.split("/")[0];

export function diskUsage(dir: string): DiskUsage {
  const byPart = new Map<string, number>();
  let bytes = 0;
  let files = 0;
  let nodeModulesBytes = 0;
  for (const file of filesUnder(dir)) {
    bytes += file.bytes;
    files += 1;
    if (file.path.startsWith("node_modules/")) nodeModulesBytes += file.bytes;
    const part = partOf(file.path);
    byPart.set(part, (byPart.get(part) ?? 0) + file.bytes);
  }
  const parts = [...byPart].map(([from, size]) => ({ from, bytes: size })).sort((a, b) => b.bytes - a.bytes);
  return { bytes, files, nodeModulesBytes, parts };
}
