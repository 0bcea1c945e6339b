/**
 * `deno task serve` (deno.json) serving deno/serve.ts with `deno serve`, as a Deno user starts it,
 * on a free port given in PORT, with only PATH, HOME and `env` (nothing leaks in from the runner).
 */
import { join, resolve } from "node:path";
import { freePort, spawnLogged, waitForHttp, type Spawned } from "./process.ts";

const ROOT = resolve(import.meta.dirname, "../..");

export interface DenoServe {
  origin: string;
  server: Spawned;
  close(): Promise<void>;
}

export async function startDenoServe(env: Record<string, string>): Promise<DenoServe> {
  const port = await freePort();
  const server = spawnLogged(
    join(ROOT, "node_modules/.bin/deno"),
    ["task", "serve"],
    { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1", ...env, PORT: String(port) },
    ROOT,
  );
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${origin}/api/ice-servers?ttl=abc`, 60_000, server);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { origin, server, close: () => server.stop() };
}
