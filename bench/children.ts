/**
 * Child processes of the bench: started through scripts/lib/process.ts (each in
 * its own process group), each ready when it prints its mark, and all of them
 * stopped on every way out: the end of the run, an error, Ctrl-C, or the bench
 * process exiting.
 */
import { readFileSync } from "node:fs";
import { spawnLogged, type Spawned } from "../scripts/lib/process.ts";

export interface Child<Ready> {
  spawned: Spawned;
  /** The JSON that followed the ready mark. */
  ready: Ready;
  /** performance.now() in this process just before the spawn, and when the mark arrived. */
  spawnedAt: number;
  readyAt: number;
  stop(): Promise<void>;
}

const live = new Set<Spawned>();

function killGroupNow(spawned: Spawned): void {
  const { child } = spawned;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {}
}

let guarded = false;
/** Makes sure no child outlives the bench, whatever ends it. */
export function guardChildren(): void {
  if (guarded) return;
  guarded = true;
  process.on("exit", () => {
    for (const spawned of live) killGroupNow(spawned);
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      for (const spawned of live) killGroupNow(spawned);
      process.exit(130);
    });
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((spawned) => spawned.stop()));
  live.clear();
}

/** Only what a user's shell would have, plus the system's own variables. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
}

/** Starts `node <args>` and resolves once it prints `mark` and a JSON line; bounded by `timeoutMs`. */
export function launchNode<Ready>(args: string[], env: NodeJS.ProcessEnv, mark: string, timeoutMs = 15_000): Promise<Child<Ready>> {
  const spawnedAt = performance.now();
  const spawned = spawnLogged(process.execPath, args, env);
  live.add(spawned);
  const stop = async () => {
    live.delete(spawned);
    await spawned.stop();
  };
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(
      () => finish(new Error(`node ${args.join(" ")} was not ready within ${timeoutMs} ms:\n${spawned.output()}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const at = buffered.indexOf(mark);
      if (at < 0) return;
      const end = buffered.indexOf("\n", at);
      if (end < 0) return;
      const readyAt = performance.now();
      let ready: Ready;
      try {
        ready = JSON.parse(buffered.slice(at + mark.length, end)) as Ready;
      } catch (error) {
        return finish(error as Error);
      }
      finish(undefined, { spawned, ready, spawnedAt, readyAt, stop });
    };
    const onExit = (code: number | null) =>
      finish(new Error(`node ${args.join(" ")} exited (${code}) before it was ready:\n${spawned.output()}`));
    function finish(error: Error | undefined, child?: Child<Ready>) {
      clearTimeout(timer);
      spawned.child.stdout?.off("data", onData);
      spawned.child.off("exit", onExit);
      if (error) {
        void stop();
        reject(error);
      } else resolve(child!);
    }
    spawned.child.stdout?.on("data", onData);
    spawned.child.once("exit", onExit);
  });
}

/** CPU time (user + system) a process has used so far, in ms; undefined off Linux. */
export function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
    return (ticks * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every mainstream Linux build. */
const CLOCK_TICKS = 100;

/** A system listening in its own child process. */
export interface Running {
  /** The URL to load: http://127.0.0.1:PORT/api/ice-servers */
  url: string;
  pid: number | undefined;
  child: Child<unknown>;
  /** Inside the child: process start to the entry point imported, when the child reports it. */
  importedAtMs: number | undefined;
  stop(): Promise<void>;
}
