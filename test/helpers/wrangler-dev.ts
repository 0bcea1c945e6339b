/**
 * `wrangler dev` serving the Worker (workers/ice-servers.ts, per wrangler.toml) in workerd, on
 * 127.0.0.1, offline: its variables come from an env file in a temporary folder (never a tracked
 * file), and nothing asks Cloudflare for anything (no metrics, update check, or `Request.cf` fetch).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, spawnLogged, waitForHttp, type Spawned } from "./process.ts";

const ROOT = resolve(import.meta.dirname, "../..");

const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");

/** wrangler's environment: its own home in `dir`, and nothing sent to Cloudflare. */
function offline(dir: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: dir,
    XDG_CONFIG_HOME: dir,
    MINIFLARE_CACHE_DIR: dir,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    WRANGLER_HIDE_BANNER: "true",
    CI: "1",
  };
}

export interface WranglerDev {
  origin: string;
  worker: Spawned;
  close(): Promise<void>;
}

/** Values in a .dev.vars file are dotenv lines; JSON string quoting keeps any character intact. */
function envFile(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([name, value]) => `${name}=${JSON.stringify(value)}\n`)
    .join("");
}

/**
 * `cf`: what every request's `request.cf` holds, such as `{ country: "CN", continent: "AS" }`.
 * Miniflare fetches a real one from workers.cloudflare.com unless a recent copy is cached in
 * its cache folder: this is that copy, so nothing is fetched and the Worker sees these fields.
 */
export async function startWranglerDev(env: Record<string, string>, cf: Record<string, string> = {}): Promise<WranglerDev> {
  const dir = mkdtempSync(join(tmpdir(), "turn-vend-wrangler-"));
  writeFileSync(join(dir, "vars.env"), envFile(env), { mode: 0o600 });
  writeFileSync(join(dir, "cf.json"), JSON.stringify(cf));
  const port = await freePort();
  const worker = spawnLogged(
    WRANGLER,
    [
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      "0",
      "--env-file",
      join(dir, "vars.env"),
      "--persist-to",
      join(dir, "state"),
      "--show-interactive-dev-session=false",
    ],
    offline(dir),
    ROOT,
  );
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${origin}/api/ice-servers?ttl=abc`, 90_000, worker);
  } catch (error) {
    await worker.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    origin,
    worker,
    async close() {
      await worker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What `wrangler deploy` would upload, built into `outDir` with a source map; throws with wrangler's output on failure. */
export function buildWorker(outDir: string): void {
  const home = mkdtempSync(join(tmpdir(), "turn-vend-wrangler-home-"));
  try {
    const build = spawnSync(WRANGLER, ["deploy", "--dry-run", "--outdir", outDir, "--upload-source-maps"], {
      cwd: ROOT,
      env: offline(home),
      encoding: "utf8",
      timeout: 120_000,
    });
    if (build.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${build.stdout}${build.stderr}`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
