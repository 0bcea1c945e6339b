/**
 * Cold start: a fresh `node` process imports a bundled entry point, listens, and
 * serves its first response. Timed from just before the spawn to the end of that
 * first response's body; the same method for every system.
 */
import type { Built } from "./build.ts";
import { send } from "./http.ts";
import { startSystem, type System } from "./systems.ts";
import type { FakeReady } from "./protocol.ts";

export interface ColdSample {
  /** Spawn to first response, as the caller sees it. */
  totalMs: number;
  /** Inside the child: process start to the entry point imported. */
  importedAtMs: number;
  /** From the parent reading the child's ready line (it is listening) to the first response: first-request work. */
  firstResponseMs: number;
}

export async function coldStart(built: Built, system: System, fake: FakeReady): Promise<ColdSample> {
  const running = await startSystem(built, system, fake);
  try {
    const reply = await send(running.url, { timeoutMs: 10_000 });
    const answeredAt = performance.now();
    if (reply.status !== 200) throw new Error(`${system.label}: first response was ${reply.status}: ${reply.body.slice(0, 200)}`);
    const { spawnedAt, readyAt, ready } = running.child;
    return {
      totalMs: answeredAt - spawnedAt,
      importedAtMs: ready.importedAt,
      firstResponseMs: answeredAt - readyAt,
    };
  } finally {
    await running.stop();
  }
}
