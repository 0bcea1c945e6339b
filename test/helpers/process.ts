import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Spawned {
  child: ChildProcess;
  /** Everything the process printed so far, stdout and stderr together. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts a command in its own process group, so that stopping it also stops what it started. */
export function spawnLogged(command: string, args: string[], env: NodeJS.ProcessEnv, cwd = process.cwd()): Spawned {
  const child = spawn(command, args, { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        return;
      }
      const killer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {}
      }, 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}

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
 * (nothing leaks in from the test runner); resolves once `readyPath` answers.
 */
export async function startLocalServer(
  env: Record<string, string>,
  options: { cwd?: string; readyPath?: string } = {},
): Promise<{ origin: string; server: Spawned }> {
  const port = await freePort();
  const tsx = join(ROOT, "node_modules/.bin/tsx");
  const server = spawnLogged(tsx, [join(ROOT, "server/start.ts")], { PATH: process.env.PATH, HOME: process.env.HOME, ...env, PORT: String(port) }, options.cwd ?? ROOT);
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}${options.readyPath ?? "/api/ice-servers?ttl=abc"}`, 30_000, server);
  return { origin, server };
}
