/**
 * Builds what the hosts deploy, with their own CLIs, offline: `netlify build` (the function's
 * zip) and `vercel build` (the Build Output API folder). Each artefact is copied out of the
 * repository to a temporary folder before it runs, so that Node cannot resolve a package from
 * the repository's node_modules that the artefact itself does not ship.
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { unzipSync } from "fflate";

const ROOT = resolve(import.meta.dirname, "../..");
const run = promisify(execFile);

export interface Built {
  /** Everything the build printed. */
  log: string;
  /** Lines of the log that are warnings or errors, except the known offline one. */
  complaints: string[];
  /** The temporary folder that holds the copy: the caller removes it. */
  tempDir: string;
}

export interface NetlifyArtefact extends Built {
  /** The unzipped function, outside the repository. */
  dir: string;
  /** The function's bundled main file, relative to `dir`. */
  mainFile: string;
  runtimeVersion: string;
  zipBytes: number;
  /** What the build's manifest tells Netlify about the function: its paths and the limiter in front of it. */
  routes: { pattern: string; literal?: string; methods: string[] }[];
  trafficRules?: unknown;
}

export interface VercelArtefact extends Built {
  /**
   * Each route's `.func` folder, copied outside the repository, by path. A `.func` that links to another
   * is one function deployed once, as Vercel deploys it: its route maps to the same copy.
   */
  funcs: Record<string, string>;
  /** The runtime of the function at /api/ice-servers. */
  runtime: string;
  /** The files served as they are (the Build Output's static/), copied outside the repository. */
  staticDir: string;
}

// What a local, offline build always says, and why it is harmless; anything else a build says
// about a problem is a failure.
const KNOWN_LOCAL_NOTICES = [
  // Netlify's edge bundler reads an edge function's inline config with its bootstrap types from
  // edge.netlify.com; offline it cannot, says so (with the DNS error), and goes on without it.
  /Could not load configuration for edge function/,
  /edge\.netlify\.com|^\s*\d: (client error \(Connect\)|dns error|failed to lookup address)/,
  // Vercel's system variables (VERCEL_URL and the like) exist only on Vercel; nothing here reads them.
  /^WARNING! Build not running on Vercel\. System environment variables will not be available\.$/,
  // Netlify runs the build command with its build image's locale (LC_ALL=en_US.UTF-8); a machine
  // without that locale has the shell say so, and the command runs in the C locale.
  /^[\w/]*sh: warning: setlocale: LC_ALL: cannot change locale \(en_US\.UTF-8\)$/,
];

function complaintsIn(log: string): string[] {
  return (
    log
      .split("\n")
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the CLIs' colour codes start with ESC.
      .map((line) => line.replace(/\x1b\[[0-9;]*m/g, ""))
      .filter((line) => /warn|error|not found|missing|cannot|could not|failed/i.test(line))
      .filter((line) => !KNOWN_LOCAL_NOTICES.some((notice) => notice.test(line)))
  );
}

async function exec(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<string> {
  try {
    const { stdout, stderr } = await run(join(ROOT, "node_modules/.bin", command), args, { cwd, env, maxBuffer: 64 << 20 });
    return `${stdout}\n${stderr}`;
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed:\n${failed.stdout ?? ""}\n${failed.stderr ?? ""}`);
  }
}

/** `netlify build --offline`, then the function's zip unzipped to a temporary folder. */
export const buildNetlify = (): Promise<NetlifyArtefact> => buildNetlifyProject(ROOT);

/** The same for another project (the bench's bare function): its own netlify.toml, its `ice-servers` function. */
export async function buildNetlifyProject(project: string): Promise<NetlifyArtefact> {
  const log = await exec("netlify", ["build", "--offline"], { ...process.env, NETLIFY_TELEMETRY_DISABLED: "1" }, project);
  const manifest = JSON.parse(readFileSync(join(project, ".netlify/functions/manifest.json"), "utf8"));
  const fn = manifest.functions.find((entry: { name: string }) => entry.name === "ice-servers");
  const zip = readFileSync(fn.path);
  const dir = mkdtempSync(join(tmpdir(), "netlify-artefact-"));
  for (const [name, bytes] of Object.entries(unzipSync(zip))) {
    if (name.endsWith("/")) continue;
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), bytes);
  }
  // The entry point Netlify's bootstrap loads: `getLambdaHandler('./functions/ice-servers.mjs')`.
  const entry = readFileSync(join(dir, "___netlify-entry-point.mjs"), "utf8");
  const mainFile = /getLambdaHandler\('([^']+)'\)/.exec(entry)?.[1];
  if (!mainFile) throw new Error(`no main file in the zip's entry point:\n${entry}`);
  const { runtimeVersion, routes, trafficRules } = fn;
  return { log, complaints: complaintsIn(log), tempDir: dir, dir, mainFile, runtimeVersion, zipBytes: zip.length, routes, trafficRules };
}

/**
 * `vercel build`, with a generated project link holding no secrets where none exists. The dependencies are
 * installed already (npm ci), so the build is told so instead of running npm install again.
 */
export const buildVercel = (): Promise<VercelArtefact> => buildVercelProject(ROOT);

/** The same for another project (the bench's bare function). */
export async function buildVercelProject(project: string): Promise<VercelArtefact> {
  mkdirSync(join(project, ".vercel"), { recursive: true });
  const link = join(project, ".vercel/project.json");
  // A project linked with `vercel link` keeps its own link.
  if (!existsSync(link))
    writeFileSync(link, JSON.stringify({ projectId: "prj_local", orgId: "team_local", settings: { framework: null } }));
  const log = await exec(
    "vercel",
    ["build", "--yes"],
    { ...process.env, VERCEL_TELEMETRY_DISABLED: "1", VERCEL_INSTALL_COMPLETED: "1" },
    project,
  );
  const out = join(project, ".vercel/output/functions");
  const copies = mkdtempSync(join(tmpdir(), "vercel-artefact-"));
  // Every function the build wrote answers at its folder's path, whoever declared it.
  const funcs: Record<string, string> = {};
  for (const entry of readdirSync(out, { recursive: true, withFileTypes: true })) {
    if (!entry.name.endsWith(".func")) continue;
    const path = join(entry.parentPath, entry.name);
    const func = relative(realpathSync(out), realpathSync(path));
    if (!existsSync(join(copies, func))) cpSync(join(out, func), join(copies, func), { recursive: true, dereference: true });
    funcs[`/${relative(out, path).replace(/\.func$/, "")}`] = join(copies, func);
  }
  const runtime = JSON.parse(readFileSync(join(funcs["/api/ice-servers"], ".vc-config.json"), "utf8")).runtime;
  const staticDir = join(copies, "static");
  cpSync(join(project, ".vercel/output/static"), staticDir, { recursive: true });
  return { log, complaints: complaintsIn(log), tempDir: copies, funcs, runtime, staticDir };
}
