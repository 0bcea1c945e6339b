import { join, resolve } from "node:path";
import { freePort, spawnLogged, type Spawned } from "../../scripts/lib/process.ts";

export { freePort, spawnLogged, type Spawned };

const ROOT = resolve(import.meta.dirname, "../..");

/** Polls `url` until it answers at all (any status), for at most `timeoutMs`. */
export async function waitForHttp(url: string, timeoutMs: number, spawned?: Spawned): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (spawned && spawned.child.exitCode !== null) {
      throw new Error(`process exited with ${spawned.child.exitCode} before serving:\n${spawned.output()}`);
    }
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms${spawned ? `:\n${spawned.output()}` : ""}`);
}

/**
 * `npm start` as a child process, on a free port, with only PATH, HOME and `env`
 * (nothing leaks in from the test runner); resolves once `readyPath` answers. Without a
 * provider it answers STUN-only, as TURN_LOCAL_RELAY=off asks, unless `localRelay` lets it run
 * its own coturn (server/local-relay.ts).
 */
export async function startLocalServer(
  env: Record<string, string>,
  options: { cwd?: string; readyPath?: string; localRelay?: boolean } = {},
): Promise<{ origin: string; server: Spawned }> {
  const port = await freePort();
  const tsx = join(ROOT, "node_modules/.bin/tsx");
  const server = spawnLogged(
    tsx,
    [join(ROOT, "server/start.ts")],
    {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...(options.localRelay ? {} : { TURN_LOCAL_RELAY: "off" }),
      ...env,
      PORT: String(port),
    },
    options.cwd ?? ROOT,
  );
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}${options.readyPath ?? "/api/ice-servers?ttl=abc"}`, 30_000, server);
  return { origin, server };
}
