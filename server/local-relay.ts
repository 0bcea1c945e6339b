/**
 * npm start's own coturn: with no provider configured and coturn's `turnserver` on the PATH, a
 * relay on loopback for development, so relay-only code paths work on the first run. Deployed
 * functions never run this: only server/start.ts does.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import * as v from "valibot";
import { flag, readVar, type Env } from "../shared/env.ts";
import { ServiceError } from "../shared/errors.ts";
import type { SharedSecretConfig } from "../shared/providers/shared-secret.ts";
import { freeTcpUdpPort, throwAwayCertificate, turnAnswers, writeCoturnConfig } from "./loopback-turn.ts";

export const INSTALL_COTURN = "apt-get install coturn, or brew install coturn";

export interface LocalRelay {
  /** What the shared-secret scheme needs to vend credentials for it. */
  readonly config: SharedSecretConfig;
  /** Where it serves TURN over UDP and TCP, such as 127.0.0.1:40123. */
  readonly address: string;
  /** Where it serves TURN over TLS, with a throw-away self-signed certificate; absent without openssl. */
  readonly tlsAddress?: string;
  /** Called once if coturn exits while npm start still runs. */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
}

/** TURN_LOCAL_RELAY, default on; throws a ServiceError naming it when it is not a flag. */
export function localRelayWanted(env: Env): boolean {
  const value = readVar(env, "TURN_LOCAL_RELAY");
  if (value === undefined) return true;
  const parsed = v.safeParse(flag("TURN_LOCAL_RELAY"), value);
  if (!parsed.success) throw new ServiceError("invalid_config", parsed.issues[0].message);
  return parsed.output;
}

/** The executable `name` in a folder of PATH, as a shell would find it. */
export function findOnPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? "").split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // Not here: the next folder.
    }
  }
  return undefined;
}

/**
 * coturn runs behind a shell that holds a pipe from npm start: the pipe ends when npm start's
 * process ends, however it ends (SIGKILL included), and the shell's watcher then stops coturn
 * and removes its folder (which holds the secret). `exec` makes coturn the shell's own process,
 * so its id and its exit are the child's.
 */
const WATCHED = [
  "dir=$1; shift; exec 3<&0",
  '( read -r _ <&3; kill -TERM $$ 2>/dev/null; sleep 1; rm -rf "$dir" ) </dev/null >/dev/null 2>&1 &',
  'exec "$@" 3<&- </dev/null',
].join("\n");

/** How long coturn gets to answer on its ports, and to exit once asked. */
const START_MS = 15_000;
const STOP_MS = 5_000;

/** Starts `turnserver` on free loopback ports; throws an Error (naming no secret) when it does not answer. */
export async function startLocalRelay(turnserver: string, path: string | undefined): Promise<LocalRelay> {
  const dir = mkdtempSync(join(tmpdir(), "turn-vend-relay-"));
  // 256 bits: the strength TURN_SHARED_SECRET asks of a real deployment.
  const secret = randomBytes(32).toString("base64url");
  const port = await freeTcpUdpPort();
  const openssl = findOnPath("openssl", path);
  const certificate = openssl ? throwAwayCertificate(dir, openssl) : undefined;
  const tlsPort = certificate ? await freeTcpUdpPort([port]) : undefined;
  const { config, logFile } = writeCoturnConfig({ dir, port, tlsPort, certificate, secret, realm: "turn-vend.local" });

  const child: ChildProcess = spawn("/bin/sh", ["-c", WATCHED, "sh", dir, turnserver, "-c", config], {
    cwd: dir,
    env: { PATH: path },
    // Its own process group: a Ctrl-C meant for npm start reaches npm start alone, and coturn
    // stops once npm start's process has ended, through the pipe.
    detached: true,
    stdio: ["pipe", "ignore", "ignore"],
  });
  child.stdin?.on("error", () => {});
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  /** For a coturn that fails to start: the same way as when npm start ends, then at once. */
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.end();
      const killer = setTimeout(() => killGroup(child, "SIGKILL"), STOP_MS);
      await exited;
      clearTimeout(killer);
    }
    killGroup(child, "SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + START_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const why = `coturn exited (${child.exitCode ?? child.signalCode}) as it started: ${logTail(logFile, secret)}`;
      await stop();
      throw new Error(why);
    }
    if (await turnAnswers(port, tlsPort ? [tlsPort] : [])) break;
    if (Date.now() > deadline) {
      const why = `coturn did not answer on 127.0.0.1:${port} within ${START_MS / 1000} s: ${logTail(logFile, secret)}`;
      await stop();
      throw new Error(why);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const urls = [`turn:127.0.0.1:${port}?transport=udp`, `turn:127.0.0.1:${port}?transport=tcp`];
  if (tlsPort) urls.push(`turns:127.0.0.1:${tlsPort}?transport=tcp`);
  return {
    config: { secrets: [secret], urls },
    address: `127.0.0.1:${port}`,
    ...(tlsPort !== undefined && { tlsAddress: `127.0.0.1:${tlsPort}` }),
    onExit(listener) {
      child.once("exit", listener);
    },
  };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // Already gone.
  }
}

/** The end of coturn's log, for a start-up failure; the secret is cut out should coturn ever print it. */
function logTail(file: string, secret: string): string {
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const tail = text.trim().split("\n").slice(-8).join("\n").replaceAll(secret, "(secret)");
  return tail ? `\n${tail}` : "(no log)";
}
