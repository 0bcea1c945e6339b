/**
 * Everything the bench runs is bundled with esbuild first, so that every child is
 * a plain `node` process (no tsx, no TypeScript at start-up) and the entry points
 * the load and cold-start figures come from are the very bundles whose size is
 * reported: bundled, minified ESM, with `@redis/client` (loaded lazily, only when
 * REDIS_URL is set) and the `node:` builtins left external. Code split off behind
 * a dynamic import() is counted apart, as loaded on demand.
 */
import { build, type Metafile } from "esbuild";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";

export const ROOT = resolve(import.meta.dirname, "..");
const BUILD_DIR = join(ROOT, "bench/.build");

/** Never bundled: @redis/client is an optional, lazily imported dependency; builtins come with the runtime. */
const EXTERNAL = ["@redis/*", "node:*"];

export type EntryName = "netlify" | "vercel" | "edge" | "naive" | "bare";

interface EntrySpec {
  name: EntryName;
  label: string;
  source: string;
  platform: "node" | "neutral";
}

const ENTRIES: readonly EntrySpec[] = [
  { name: "netlify", label: "Netlify function (functions/ice-servers.mts)", source: "functions/ice-servers.mts", platform: "node" },
  { name: "vercel", label: "Vercel function (vercel/ice-servers.ts)", source: "vercel/ice-servers.ts", platform: "node" },
  {
    name: "edge",
    label: "Netlify edge function (netlify/edge-functions/ice-servers.ts)",
    source: "netlify/edge-functions/ice-servers.ts",
    platform: "neutral",
  },
  { name: "naive", label: "naive seed handler (bench/systems/naive.ts)", source: "bench/systems/naive.ts", platform: "node" },
  { name: "bare", label: "bare function (bench/systems/bare.ts)", source: "bench/systems/bare.ts", platform: "node" },
];

export interface BuiltEntry {
  name: EntryName;
  label: string;
  /** The entry file; it imports its chunks by relative path. */
  file: string;
  /** Bundled and minified: what is loaded at start (the entry and what it imports statically). */
  bytes: number;
  /** The same files, each gzipped at level 9, summed. */
  gzipBytes: number;
  /** Chunks only reached by a dynamic import(), loaded when a feature needs them. */
  lazyBytes: number;
  /** What the bytes loaded at start are made of: each of our files, or the package, largest first. */
  composition: { from: string; bytes: number }[];
  /** The same for the lazy chunks. */
  lazyComposition: { from: string; bytes: number }[];
}

export interface Built {
  entries: Record<EntryName, BuiltEntry>;
  serve: string;
  fakeHost: string;
}

type Output = Metafile["outputs"][string];

function composition(outputs: Output[]): { from: string; bytes: number }[] {
  const byOrigin = new Map<string, number>();
  for (const output of outputs) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1];
      const from = pkg ?? input;
      byOrigin.set(from, (byOrigin.get(from) ?? 0) + bytesInOutput);
    }
  }
  return [...byOrigin]
    .filter(([, bytes]) => bytes > 0)
    .map(([from, bytes]) => ({ from, bytes }))
    .sort((a, b) => b.bytes - a.bytes);
}

/** The entry's output and every chunk it imports statically, transitively. */
function loadedAtStart(metafile: Metafile, entryOutput: string): Set<string> {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path) || !metafile.outputs[path]) return;
    seen.add(path);
    for (const imported of metafile.outputs[path].imports) {
      if (imported.kind === "import-statement" && !imported.external) visit(imported.path);
    }
  };
  visit(entryOutput);
  return seen;
}

async function buildEntry(spec: EntrySpec): Promise<BuiltEntry> {
  const outdir = join(BUILD_DIR, "entries", spec.name);
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [spec.source],
    outdir,
    entryNames: spec.name,
    chunkNames: "chunks/[name]-[hash]",
    outExtension: { ".js": ".mjs" },
    // Splitting keeps what is only reached by import() out of the entry, as a
    // platform that loads files on demand would.
    splitting: true,
    bundle: true,
    minify: true,
    format: "esm",
    platform: spec.platform,
    target: "es2022",
    mainFields: spec.platform === "neutral" ? ["module", "main"] : undefined,
    external: EXTERNAL,
    metafile: true,
    logLevel: "error",
  });
  const { outputs } = result.metafile;
  const entryOutput = Object.keys(outputs).find((path) => outputs[path].entryPoint !== undefined);
  if (!entryOutput) throw new Error(`esbuild produced no entry for ${spec.source}`);
  const atStart = loadedAtStart(result.metafile, entryOutput);
  const size = (path: string) => outputs[path].bytes;
  const startPaths = [...atStart];
  const lazyPaths = Object.keys(outputs).filter((path) => !atStart.has(path) && path.endsWith(".mjs"));
  return {
    name: spec.name,
    label: spec.label,
    file: join(ROOT, entryOutput),
    bytes: startPaths.reduce((sum, path) => sum + size(path), 0),
    gzipBytes: startPaths.reduce((sum, path) => sum + gzipSync(readFileSync(join(ROOT, path)), { level: 9 }).length, 0),
    lazyBytes: lazyPaths.reduce((sum, path) => sum + size(path), 0),
    composition: composition(startPaths.map((path) => outputs[path])),
    lazyComposition: composition(lazyPaths.map((path) => outputs[path])),
  };
}

async function buildHarness(source: string, name: string): Promise<string> {
  const file = join(BUILD_DIR, `${name}.mjs`);
  await build({
    absWorkingDir: ROOT,
    entryPoints: [source],
    outfile: file,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: EXTERNAL,
    logLevel: "error",
  });
  return file;
}

export async function buildAll(): Promise<Built> {
  rmSync(BUILD_DIR, { recursive: true, force: true });
  mkdirSync(join(BUILD_DIR, "entries"), { recursive: true });
  const built = await Promise.all(ENTRIES.map(buildEntry));
  const [serve, fakeHost] = await Promise.all([
    buildHarness("bench/serve.ts", "serve"),
    buildHarness("bench/fake-cloudflare-host.ts", "fake-cloudflare-host"),
  ]);
  return { entries: Object.fromEntries(built.map((entry) => [entry.name, entry])) as Record<EntryName, BuiltEntry>, serve, fakeHost };
}
