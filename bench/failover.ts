/**
 * Failover: provider 1 (the Cloudflare fake) accepts the request and never answers;
 * provider 2 (shared secret) is healthy. Timed from the request to the 200, against
 * the one-attempt budget TURN_UPSTREAM_TIMEOUT_MS. The naive handler has no second
 * provider and no timeout, so it is given a bounded wait and reported as it ends.
 */
import type { Built } from "./build.ts";
import { send } from "./http.ts";
import { failoverEnv, startSystem, serveEntry, systemById } from "./systems.ts";
import type { FakeCloudflareProcess } from "./upstream.ts";

export interface FailoverResult {
  budgetMs: number;
  /** Time to a 200 served by provider 2, per attempt. */
  runsMs: number[];
  /** Which provider served each attempt (expected: shared-secret). */
  providers: string[];
  naive: { waitedMs: number; outcome: string };
}

export async function failover(
  built: Built,
  fake: FakeCloudflareProcess,
  budgetMs: number,
  runs: number,
  naiveWaitMs: number,
): Promise<FailoverResult> {
  await fake.reset();
  const ours = await serveEntry(built, "netlify", failoverEnv(fake.ready, budgetMs));
  const runsMs: number[] = [];
  const providers: string[] = [];
  try {
    // Warm: configuration loaded and a connection pooled while provider 1 is healthy.
    await send(ours.url, { timeoutMs: 10_000 });
    await fake.setFault({ kind: "hang" });
    for (let run = 0; run < runs; run += 1) {
      const started = performance.now();
      const reply = await send(ours.url, { timeoutMs: budgetMs * 10 + 5_000 });
      runsMs.push(performance.now() - started);
      providers.push(reply.status === 200 ? String((JSON.parse(reply.body) as { provider?: unknown }).provider) : `HTTP ${reply.status}`);
    }
  } finally {
    await ours.stop();
  }

  const naive = await startSystem(built, systemById("naive"), fake.ready);
  let outcome: string;
  const started = performance.now();
  try {
    const reply = await send(naive.url, { timeoutMs: naiveWaitMs });
    outcome = `HTTP ${reply.status} after ${Math.round(performance.now() - started)} ms`;
  } catch {
    outcome = `no answer within ${naiveWaitMs} ms`;
  } finally {
    await naive.stop();
    await fake.reset();
  }
  return { budgetMs, runsMs, providers, naive: { waitedMs: naiveWaitMs, outcome } };
}
