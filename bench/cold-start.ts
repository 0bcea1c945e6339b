/**
 * Cold start: a fresh `node` process loads a system (a bundled entry point, or a
 * host's built artefact through its runtime), listens, and serves its first
 * response. Timed from just before the spawn to the end of that first response's
 * body; the same method for every system.
 */
import { send } from "./http.ts";
import type { FakeReady } from "./protocol.ts";
import type { Running } from "./children.ts";

export interface ColdSample {
  /** Spawn to first response, as the caller sees it. */
  totalMs: number;
  /** Inside the child: process start to the entry point imported (undefined when the child does not report it). */
  importedAtMs?: number;
  /** From the parent reading the child's ready line (it is listening) to the first response: first-request work. */
  firstResponseMs: number;
}

/** Anything the cold start can time: `start` spawns a fresh process and resolves once it listens. */
export interface ColdSubject<Id extends string = string> {
  id: Id;
  label: string;
  /** Upstream calls its first answer makes: a floor that makes another number measures something else. */
  upstreamCalls: number;
  start(fake: FakeReady): Promise<Running>;
}

export async function coldStart(subject: ColdSubject, fake: FakeReady): Promise<ColdSample> {
  const running = await subject.start(fake);
  try {
    const reply = await send(running.url, { timeoutMs: 10_000 });
    const answeredAt = performance.now();
    if (reply.status !== 200) throw new Error(`${subject.label}: first response was ${reply.status}: ${reply.body.slice(0, 200)}`);
    const { spawnedAt, readyAt } = running.child;
    return {
      totalMs: answeredAt - spawnedAt,
      importedAtMs: running.importedAtMs,
      firstResponseMs: answeredAt - readyAt,
    };
  } finally {
    await running.stop();
  }
}
