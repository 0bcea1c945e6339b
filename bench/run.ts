/**
 * `npm run bench`: every system side by side on loopback, each in its own `node`
 * process, against the fake Cloudflare in another; the hosts' built artefacts join
 * the cold start. Prints a table, writes bench/results/latest.json. Reports
 * pass/miss per target; never fails on a miss.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { buildArtefacts } from "./artefacts.ts";
import { buildAll, ROOT, type Built } from "./build.ts";
import { burst, type BurstSample } from "./burst.ts";
import { guardChildren, stopAll } from "./children.ts";
import { coldStart, type ColdSample, type ColdSubject } from "./cold-start.ts";
import { failover } from "./failover.ts";
import { loadCount, loadFor, type LoadSample } from "./load.ts";
import { loadAverage, machine } from "./machine.ts";
import { parseOptions, type BenchOptions } from "./options.ts";
import { COLD_IDS, renderTable, summarize, UPSTREAM_SYSTEMS, type ColdId, type CountedRun, type Raw } from "./report.ts";
import { coldSubjectOf, COLD_SYSTEMS, startSystem, SYSTEMS, type System } from "./systems.ts";
import { directUpstreamRequest, startFakeCloudflareProcess, type FakeCloudflareProcess } from "./upstream.ts";

/** Far above the expected ~3½ minutes (the hosts' builds included): only a stuck bench ever meets it. */
const WATCHDOG_MS = 9 * 60_000;

const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);
const byId = <Id extends string, T>(ids: readonly Id[], make: () => T) =>
  Object.fromEntries(ids.map((id) => [id, make()])) as Record<Id, T>;
const bySystem = <T>(make: () => T) =>
  byId(
    SYSTEMS.map((system) => system.id),
    make,
  );

async function measureSystem(built: Built, fake: FakeCloudflareProcess, system: System, options: BenchOptions, raw: Raw): Promise<void> {
  await fake.reset();
  await fake.setLatency(options.latencyMs);
  const running = await startSystem(built, system, fake.ready);
  try {
    const target = { url: running.url };
    // Counted exactly, on the fresh instance: its first connections to the upstream are included.
    const counted = await loadCount(target, options.connections, options.countedRequests);
    const stats = await fake.stats();
    const countedRun: CountedRun = { ...counted, upstreamCalls: stats.requests, newConnections: stats.connections };
    raw.counted[system.id].push(countedRun);

    await loadFor(target, options.connections, options.warmupS);
    const sample: LoadSample = await loadFor(target, options.connections, options.durationS, running.pid);
    raw.load[system.id].push(sample);

    const upstreamId = UPSTREAM_SYSTEMS.find((id) => id === system.id);
    if (upstreamId) raw.unloaded[upstreamId].push(await loadFor(target, 1, options.unloadedS));

    await fake.setLatency(options.burstLatencyMs);
    const burstSample: BurstSample = await burst(running.url, options.burstRequests, running.pid);
    raw.burst[system.id].push(burstSample);
    progress(
      `${system.label}: ${Math.round(sample.rps)} req/s, p99 ${sample.p99Ms.toFixed(2)} ms` +
        `${sample.notOk + sample.errors > 0 ? `, ${sample.notOk} non-2xx, ${sample.errors} errors` : ""}; ` +
        `upstream calls ${countedRun.upstreamCalls}/${countedRun.ok}; burst ${Math.round(burstSample.wallMs)} ms (${burstSample.failed} failed)`,
    );
  } finally {
    await running.stop();
  }
}

async function measureDirectUpstream(fake: FakeCloudflareProcess, options: BenchOptions, raw: Raw, round: number): Promise<void> {
  await fake.reset();
  await fake.setLatency(options.latencyMs);
  const target = directUpstreamRequest(fake.ready);
  // The fake lives through the whole bench, so it is warm after the first round.
  await loadFor(target, options.connections, round === 0 ? options.warmupS : 1);
  const sample = await loadFor(target, options.connections, options.durationS, fake.pid);
  raw.load.upstream.push(sample);
  raw.unloaded.upstream.push(await loadFor(target, 1, options.unloadedS));
  progress(`upstream alone: ${Math.round(sample.rps)} req/s, p50 ${sample.p50Ms.toFixed(2)} ms, p99 ${sample.p99Ms.toFixed(2)} ms`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  guardChildren();
  setTimeout(() => {
    progress(`still running after ${WATCHDOG_MS / 60_000} minutes: giving up`);
    process.exit(2);
  }, WATCHDOG_MS).unref();
  const started = performance.now();
  const before = machine();

  progress("building what the hosts deploy, ours and the bare function: netlify build --offline, then vercel build");
  const artefacts = await buildArtefacts();
  progress(`built in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  // Every way out of the bench (the end, an error, Ctrl-C, the watchdog) passes here.
  process.once("exit", () => artefacts.remove());
  for (const complaint of artefacts.complaints) progress(`warning: ${complaint}`);

  progress("bundling entry points and the harness with esbuild");
  const built = await buildAll();
  const fake = await startFakeCloudflareProcess(built);

  const raw: Raw = {
    load: { ...bySystem((): LoadSample[] => []), upstream: [] },
    unloaded: { naive: [], "ours-cloudflare": [], upstream: [] },
    counted: bySystem((): CountedRun[] => []),
    burst: bySystem((): BurstSample[] => []),
    cold: byId(COLD_IDS, (): ColdSample[] => []),
    coldLoadAverage: { before: 0, after: 0 },
    bundles: Object.values(built.entries).map(({ file, ...entry }) => ({ ...entry, file: relative(ROOT, file) })),
    artefacts: artefacts.sizes,
    failover: undefined,
  };

  for (let round = 0; round < options.runs; round += 1) {
    progress(
      `load, run ${round + 1} of ${options.runs} (${options.connections} connections, ${options.durationS} s, upstream latency ${options.latencyMs} ms)`,
    );
    // The order rotates, so that no system always runs first or last.
    const order = SYSTEMS.map((_, index) => SYSTEMS[(index + round) % SYSTEMS.length]);
    for (const system of order) await measureSystem(built, fake, system, options, raw);
    await measureDirectUpstream(fake, options, raw, round);
  }

  progress(`cold start, ${options.coldStarts} fresh processes per system, per floor and per built artefact`);
  await fake.reset();
  const coldSubjects: ColdSubject<ColdId>[] = [...COLD_SYSTEMS.map((system) => coldSubjectOf(built, system)), ...artefacts.coldSubjects];
  const coldLoadBefore = loadAverage();
  // The fake's count after one cold start is the count before the next.
  let requestsSoFar = (await fake.stats()).requests;
  for (let run = 0; run < options.coldStarts; run += 1) {
    for (const subject of coldSubjects) {
      raw.cold[subject.id].push(await coldStart(subject, fake.ready));
      const { requests } = await fake.stats();
      const calls = requests - requestsSoFar;
      requestsSoFar = requests;
      if (calls !== subject.upstreamCalls)
        throw new Error(`${subject.label}: its first answer made ${calls} upstream call(s), not ${subject.upstreamCalls}`);
    }
  }
  raw.coldLoadAverage = { before: coldLoadBefore, after: loadAverage() };

  progress(`failover, ${options.failoverRuns} runs against a ${options.failoverBudgetMs} ms budget`);
  raw.failover = await failover(built, fake, options.failoverBudgetMs, options.failoverRuns, 3 * options.failoverBudgetMs);

  await fake.stop();
  const wallSeconds = (performance.now() - started) / 1000;
  const summary = summarize(raw, options, { ...before, loadAverageAfter: loadAverage() }, wallSeconds);

  const out = resolve(ROOT, options.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(`${out}.tmp`, `${JSON.stringify(summary, null, 2)}\n`);
  renameSync(`${out}.tmp`, out);

  console.log(renderTable(summary));
  console.log(`\nWritten to ${relative(ROOT, out)} in ${wallSeconds.toFixed(0)} s.`);
}

main()
  .catch((error) => {
    console.error(`bench failed: ${(error as Error).stack ?? error}`);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
