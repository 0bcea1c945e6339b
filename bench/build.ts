/**
 * Everything the bench runs is bundled with esbuild first, so that every child is
 * a plain `node` process (no tsx, no TypeScript at start-up) and the entry points
 * the load and cold-start figures come from are the very bundles whose size is
 * reported: bundled, minified ESM, with `@redis/client` (loaded lazily, only when
 * REDIS_URL is set) and the `node:` builtins left external.
 *
 * Each entry is one file, as the hosts' own builds ship a function: what loads at
 * start is that file alone. jose, which the core imports only for AUTH_MODE=jwt, is
 * bundled into a file of its own beside it and counted apart, as loaded on demand.
 * Not esbuild's code splitting: it puts its runtime helpers in a chunk that the
 * entry imports at start (about 0.7 ms of every cold start here, for a
 * 106-byte file), and it would split any other import() of ours into more such chunks.
 */
import { build, type Metafile, type Plugin } from "esbuild";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";

export const ROOT = resolve(import.meta.dirname, "..");
const BUILD_DIR = join(ROOT, "bench/.build");

/** Never bundled: @redis/client is an optional, lazily imported dependency; builtins come with the runtime. */
const EXTERNAL = ["@redis/*", "node:*"];

/** Packages the core imports only on demand, each bundled into `<name>.mjs` beside the entry. */
const APART = ["jose"];

/** Points each import of a package in APART at its own file beside the entry. */
const apart: Plugin = {
  name: "packages-apart",
  setup(build) {
    build.onResolve({ filter: new RegExp(`^(${APART.join("|")})$`) }, ({ path }) => ({ path: `./${path}.mjs`, external: true }));
  },
};

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
  /** The entry file; it imports the packages kept apart by relative path. */
  file: string;
  /** Bundled and minified: what is loaded at start, the entry file alone. */
  bytes: number;
  /** The same files, each gzipped at level 9, summed. */
  gzipBytes: number;
  /** The packages kept apart (jose), loaded when a feature needs them. */
  lazyBytes: number;
  /** What the bytes loaded at start are made of: each of our files, or the package, largest first. */
  composition: { from: string; bytes: number }[];
  /** The same for the packages kept apart. */
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

async function buildEntry(spec: EntrySpec): Promise<BuiltEntry> {
  const outdir = join(BUILD_DIR, "entries", spec.name);
  const common = {
    absWorkingDir: ROOT,
    bundle: true,
    minify: true,
    format: "esm",
    platform: spec.platform,
    target: "es2022",
    mainFields: spec.platform === "neutral" ? ["module", "main"] : undefined,
    metafile: true,
    logLevel: "error",
  } as const;
  const file = join(outdir, `${spec.name}.mjs`);
  const { metafile } = await build({ ...common, entryPoints: [spec.source], outfile: file, external: EXTERNAL, plugins: [apart] });
  const [entryOutput] = Object.keys(metafile.outputs);
  const wanted = new Set(metafile.outputs[entryOutput].imports.filter((imported) => imported.external).map((imported) => imported.path));
  const lazy: Output[] = [];
  for (const name of APART.filter((name) => wanted.has(`./${name}.mjs`))) {
    const built = await build({
      ...common,
      stdin: { contents: `export * from ${JSON.stringify(name)};`, resolveDir: ROOT, loader: "js" },
      outfile: join(outdir, `${name}.mjs`),
      external: EXTERNAL,
    });
    lazy.push(...Object.values(built.metafile.outputs));
  }
  const entry = metafile.outputs[entryOutput];
  return {
    name: spec.name,
    label: spec.label,
    file,
    bytes: entry.bytes,
    gzipBytes: gzipSync(readFileSync(file), { level: 9 }).length,
    lazyBytes: lazy.reduce((sum, output) => sum + output.bytes, 0),
    composition: composition([entry]),
    lazyComposition: composition(lazy),
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
