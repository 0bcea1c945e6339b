/**
 * A real redis-server on 127.0.0.1, on a free port, with nothing written to disk.
 * It can be stopped and started again on the same port, for the "store down" cases.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnLogged, type Spawned } from "./process.ts";

export interface RedisServer {
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** Whether the server process is running now. */
  running(): boolean;
  /** Everything every run of the server printed. */
  output(): string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s); the port stays reserved for start(). */
  stop(): Promise<void>;
  /** Starts it again on the same port and waits for PING; a no-op while it runs. */
  start(): Promise<void>;
  /**
   * Freezes the server (SIGSTOP): connections stay open and what clients send
   * waits unread, as behind a network partition, until resume() (SIGCONT).
   */
  pause(): void;
  resume(): void;
  /** Stops it for good and removes its working folder. */
  close(): Promise<void>;
}

const REDIS_SERVER = process.env.REDIS_SERVER ?? "redis-server";

/** One PING over a fresh connection: true only on +PONG, within `timeoutMs`. */
export function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let reply = "";
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString("latin1");
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
    socket.on("error", () => done(false));
    socket.on("close", () => done(false));
  });
}

async function waitForPing(port: number, timeoutMs: number, server: Spawned): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`redis-server exited before answering PING:\n${server.output()}`);
    }
    if (await ping(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms:\n${server.output()}`);
}

/** Starts redis-server on `port` (default: a free one), or fails within `startTimeoutMs` (default 10 s). */
export async function startRedis(options: { port?: number; startTimeoutMs?: number } = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "turn-vend-redis-"));
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  let current: Spawned | undefined;
  let previousOutput = "";

  const isRunning = () => current !== undefined && current.child.exitCode === null && current.child.signalCode === null;

  async function start(): Promise<void> {
    if (isRunning()) return;
    if (current) previousOutput += current.output();
    // Persistence off, loopback only, and the working folder a private temporary one.
    const args = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--protected-mode",
      "yes",
      "--dir",
      dir,
    ];
    current = spawnLogged(REDIS_SERVER, args, { PATH: process.env.PATH, HOME: process.env.HOME });
    const spawned = current;
    const failedToSpawn = new Promise<never>((_, reject) =>
      spawned.child.once("error", (error) => reject(new Error(`could not run ${REDIS_SERVER}: ${error.message}`))),
    );
    failedToSpawn.catch(() => {});
    try {
      await Promise.race([waitForPing(port, timeoutMs, spawned), failedToSpawn]);
    } catch (error) {
      await spawned.stop();
      throw error;
    }
  }

  async function stop(): Promise<void> {
    await current?.stop();
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    running: isRunning,
    output: () => previousOutput + (current?.output() ?? ""),
    stop,
    start,
    pause: () => void current?.child.kill("SIGSTOP"),
    resume: () => void current?.child.kill("SIGCONT"),
    async close() {
      // A paused server would not see the SIGTERM.
      current?.child.kill("SIGCONT");
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
