/** Medians and spreads of the raw runs, pass/miss per target, the printed table. */
import { ARTEFACTS, type ArtefactId, type ArtefactSize } from "./artefacts.ts";
import type { BuiltEntry } from "./build.ts";
import type { BurstSample } from "./burst.ts";
import type { ColdSample } from "./cold-start.ts";
import type { FailoverResult } from "./failover.ts";
import type { CountedSample, LoadSample } from "./load.ts";
import type { Machine } from "./machine.ts";
import type { BenchOptions } from "./options.ts";
import { median, spread, type Spread } from "./stats.ts";
import { COLD_SYSTEMS, SYSTEMS, systemById, type ColdSystemId, type SystemId } from "./systems.ts";

export interface CountedRun extends CountedSample {
  /** Requests the fake Cloudflare received during the counted run. */
  upstreamCalls: number;
  /** TCP connections the fake accepted during the counted run. */
  newConnections: number;
}

type LoadId = SystemId | "upstream";
/** Every system and the floors, then the hosts' built artefacts, which are only cold-started. */
export type ColdId = ColdSystemId | ArtefactId;
export type UpstreamSystemId = "naive" | "ours-cloudflare";

export interface Raw {
  load: Record<LoadId, LoadSample[]>;
  /** One connection, nothing queued: the systems that call the upstream, and the upstream alone. */
  unloaded: Record<UpstreamSystemId | "upstream", LoadSample[]>;
  counted: Record<SystemId, CountedRun[]>;
  burst: Record<SystemId, BurstSample[]>;
  cold: Record<ColdId, ColdSample[]>;
  /** The 1-minute load average as the cold starts began and as they ended. */
  coldLoadAverage: { before: number; after: number };
  bundles: BuiltEntry[];
  artefacts: ArtefactSize[];
  failover: FailoverResult | undefined;
}

export interface TargetResult {
  target: string;
  measured: string;
  pass: boolean;
}

export interface Summary {
  machine: Machine;
  options: BenchOptions;
  wallSeconds: number;
  load: Record<
    LoadId,
    {
      rps: Spread;
      rpsRatioToBare: number;
      p50Ms: Spread;
      p99Ms: Spread;
      cpuUsPerRequest?: Spread;
      cpuShare?: Spread;
      notOk: number;
      errors: number;
    }
  >;
  /** p99 of a system minus p99 of the upstream alone in the same round, per round. */
  p99AddedOverUpstreamMs: Record<UpstreamSystemId, Spread>;
  /** On one connection: p50 and p99 minus the upstream's own on one connection, per round. */
  unloadedAddedMs: Record<UpstreamSystemId, { p50: Spread; p99: Spread }>;
  /** p99 minus the configured latency, per round. */
  p99OverConfiguredLatencyMs: Record<UpstreamSystemId, Spread>;
  upstreamUse: Record<SystemId, { callsPerRequest: Spread; newConnectionsPer1000: Spread; notOk: number }>;
  burst: Record<SystemId, { wallMs: Spread; ratioToLatency: number; failed: number; serverCpuMs?: Spread; clientCpuMs: Spread }>;
  coldStart: Record<
    ColdId,
    {
      totalMs: Spread;
      /** To the bare esbuild bundle. */
      ratioToBare: number;
      /**
       * Ours, to its floor: the bare function built and started the same way, making the upstream call
       * our configuration makes (if any); undefined for the others.
       */
      ratioToFloor?: number;
      /** What ratioToFloor divides by. */
      floor?: ColdId;
      importedAtMs?: Spread;
      firstResponseMs: Spread;
    }
  >;
  coldLoadAverage: { before: number; after: number };
  bundles: BuiltEntry[];
  artefacts: ArtefactSize[];
  failover: (FailoverResult & { ms: Spread }) | undefined;
  targets: TargetResult[];
}

const BUNDLE_LIMIT_BYTES = 30 * 1024;
/** Our esbuild bundle's cold start, at most this many times the bare bundle's. */
const BUNDLE_COLD_LIMIT = 1.1;
/** What a host ships of ours, at most this many times its cold start of the bare function. */
const SHIPPED_COLD_LIMIT = 1.15;
export const UPSTREAM_SYSTEMS: readonly UpstreamSystemId[] = ["naive", "ours-cloudflare"];
/** Every system under load, then the upstream alone. */
const LOAD_IDS: readonly LoadId[] = [...SYSTEMS.map(({ id }) => id), "upstream"];
export const COLD_IDS: readonly ColdId[] = [...COLD_SYSTEMS.map(({ id }) => id), ...ARTEFACTS.map(({ id }) => id)];

/** Each cold-started subject of ours, with its floor and the limit of its ratio to it. */
const HELD: readonly { id: ColdId; floor: ColdId; limit: number }[] = [
  ...COLD_SYSTEMS.flatMap(({ id, floor }) => (floor ? [{ id, floor, limit: BUNDLE_COLD_LIMIT }] : [])),
  ...ARTEFACTS.flatMap(({ id, floor }) => (floor ? [{ id, floor, limit: SHIPPED_COLD_LIMIT }] : [])),
];

const defined = (values: (number | undefined)[]): number[] => values.filter((value): value is number => value !== undefined);
const optionalSpread = (values: (number | undefined)[]) =>
  values.every((value) => value !== undefined) ? spread(defined(values)) : undefined;
const mapIds = <Id extends string, T>(ids: readonly Id[], make: (id: Id) => T) =>
  Object.fromEntries(ids.map((id) => [id, make(id)])) as Record<Id, T>;
const mapSystems = <T>(make: (id: SystemId) => T) =>
  mapIds(
    SYSTEMS.map(({ id }) => id),
    make,
  );
const pairwise = (a: number[], b: number[]) => a.map((value, index) => value - b[index]);

export function summarize(raw: Raw, options: BenchOptions, machine: Machine, wallSeconds: number): Summary {
  const bareRps = median(raw.load.bare.map((sample) => sample.rps));
  const load = Object.fromEntries(
    LOAD_IDS.map((id) => {
      const samples = raw.load[id];
      const rps = spread(samples.map((sample) => sample.rps));
      return [
        id,
        {
          rps,
          rpsRatioToBare: rps.median / bareRps,
          p50Ms: spread(samples.map((sample) => sample.p50Ms)),
          p99Ms: spread(samples.map((sample) => sample.p99Ms)),
          cpuUsPerRequest: optionalSpread(samples.map((sample) => sample.cpuUsPerRequest)),
          cpuShare: optionalSpread(samples.map((sample) => sample.cpuShare)),
          notOk: samples.reduce((sum, sample) => sum + sample.notOk, 0),
          errors: samples.reduce((sum, sample) => sum + sample.errors, 0),
        },
      ];
    }),
  ) as Summary["load"];

  const upstreamP99 = raw.load.upstream.map((sample) => sample.p99Ms);
  const p99AddedOverUpstreamMs = Object.fromEntries(
    UPSTREAM_SYSTEMS.map((id) => [
      id,
      spread(
        pairwise(
          raw.load[id].map((sample) => sample.p99Ms),
          upstreamP99,
        ),
      ),
    ]),
  ) as Summary["p99AddedOverUpstreamMs"];
  const p99OverConfiguredLatencyMs = Object.fromEntries(
    UPSTREAM_SYSTEMS.map((id) => [id, spread(raw.load[id].map((sample) => sample.p99Ms - options.latencyMs))]),
  ) as Summary["p99OverConfiguredLatencyMs"];

  const unloadedAddedMs = Object.fromEntries(
    UPSTREAM_SYSTEMS.map((id) => [
      id,
      {
        p50: spread(
          pairwise(
            raw.unloaded[id].map((sample) => sample.p50Ms),
            raw.unloaded.upstream.map((sample) => sample.p50Ms),
          ),
        ),
        p99: spread(
          pairwise(
            raw.unloaded[id].map((sample) => sample.p99Ms),
            raw.unloaded.upstream.map((sample) => sample.p99Ms),
          ),
        ),
      },
    ]),
  ) as Summary["unloadedAddedMs"];

  const upstreamUse = mapSystems((id) => ({
    callsPerRequest: spread(raw.counted[id].map((run) => run.upstreamCalls / Math.max(1, run.ok))),
    newConnectionsPer1000: spread(raw.counted[id].map((run) => (run.newConnections * 1000) / Math.max(1, run.ok))),
    notOk: raw.counted[id].reduce((sum, run) => sum + run.notOk + run.errors, 0),
  }));

  const burst = mapSystems((id) => {
    const wallMs = spread(raw.burst[id].map((sample) => sample.wallMs));
    return {
      wallMs,
      ratioToLatency: wallMs.median / options.burstLatencyMs,
      failed: raw.burst[id].reduce((sum, sample) => sum + sample.failed, 0),
      serverCpuMs: optionalSpread(raw.burst[id].map((sample) => sample.serverCpuMs)),
      clientCpuMs: spread(raw.burst[id].map((sample) => sample.clientCpuMs)),
    };
  });

  const medianCold = (id: ColdId) => median(raw.cold[id].map((sample) => sample.totalMs));
  const bareCold = medianCold("bare");
  const coldStart = mapIds(COLD_IDS, (id) => {
    const totalMs = spread(raw.cold[id].map((sample) => sample.totalMs));
    const floor = HELD.find((held) => held.id === id)?.floor;
    return {
      totalMs,
      ratioToBare: totalMs.median / bareCold,
      ratioToFloor: floor ? totalMs.median / medianCold(floor) : undefined,
      floor,
      importedAtMs: optionalSpread(raw.cold[id].map((sample) => sample.importedAtMs)),
      firstResponseMs: spread(raw.cold[id].map((sample) => sample.firstResponseMs)),
    };
  });

  const failover = raw.failover ? { ...raw.failover, ms: spread(raw.failover.runsMs) } : undefined;

  const summary: Summary = {
    machine,
    options,
    wallSeconds,
    load,
    p99AddedOverUpstreamMs,
    unloadedAddedMs,
    p99OverConfiguredLatencyMs,
    upstreamUse,
    burst,
    coldStart,
    coldLoadAverage: raw.coldLoadAverage,
    bundles: raw.bundles,
    artefacts: raw.artefacts,
    failover,
    targets: [],
  };
  summary.targets = evaluateTargets(summary);
  return summary;
}

function evaluateTargets(summary: Summary): TargetResult[] {
  const { load, upstreamUse, burst, coldStart, options } = summary;
  const targets: TargetResult[] = [];
  const ssRatio = load["ours-shared-secret"].rpsRatioToBare;
  targets.push({ target: "shared-secret throughput ≥ 0.8× bare", measured: `${ssRatio.toFixed(2)}×`, pass: ssRatio >= 0.8 });

  const added = summary.p99AddedOverUpstreamMs["ours-cloudflare"].median;
  targets.push({
    target: "Cloudflare p99 added over the upstream's own p99 < 1 ms",
    measured: `${ms(added)} ms (p99 − configured ${options.latencyMs} ms: ${ms(summary.p99OverConfiguredLatencyMs["ours-cloudflare"].median)} ms)`,
    pass: added < 1,
  });

  const calls = upstreamUse["ours-cloudflare"].callsPerRequest;
  const exact = upstreamUse["ours-cloudflare"].notOk === 0 && calls.min === 1 && calls.max === 1;
  targets.push({
    target: "exactly one upstream call per request (Cloudflare)",
    measured: `${calls.min.toFixed(3)}–${calls.max.toFixed(3)} in every run`,
    pass: exact,
  });

  const burstRatio = burst["ours-cloudflare"].ratioToLatency;
  targets.push({
    target: `${options.burstRequests} concurrent requests in < 2× the ${options.burstLatencyMs} ms upstream latency`,
    measured: `${Math.round(burst["ours-cloudflare"].wallMs.median)} ms = ${burstRatio.toFixed(1)}×${burst["ours-cloudflare"].failed ? `, ${burst["ours-cloudflare"].failed} failed` : ""}`,
    pass: burstRatio < 2 && burst["ours-cloudflare"].failed === 0,
  });

  const coldLoad = `load average ${summary.coldLoadAverage.before}–${summary.coldLoadAverage.after}`;
  for (const { id, floor, limit } of HELD) {
    const ratio = coldStart[id].ratioToFloor!;
    targets.push({
      target: `cold start ≤ ${limit}× ${label(floor)} (${label(id)})`,
      measured: `${ms(coldStart[id].totalMs.median)} / ${ms(coldStart[floor].totalMs.median)} ms = ${ratio.toFixed(2)}× (${coldLoad})`,
      pass: ratio <= limit,
    });
  }

  for (const bundle of summary.bundles.filter((entry) => ["netlify", "vercel", "edge"].includes(entry.name))) {
    targets.push({
      target: `${bundle.name} bundle ≤ 30 KB minified`,
      measured: `${kb(bundle.bytes)} KB`,
      pass: bundle.bytes <= BUNDLE_LIMIT_BYTES,
    });
  }
  return targets;
}

// ---- formatting ----

const int = (value: number) => Math.round(value).toLocaleString("en-US");
const ms = (value: number) => (Math.abs(value) < 10 ? value.toFixed(2) : value.toFixed(1));
const kb = (bytes: number) => (bytes / 1024).toFixed(1);
const withSpread = (value: Spread, format: (value: number) => string) =>
  value.runs.length > 1 ? `${format(value.median)} [${format(value.min)}–${format(value.max)}]` : format(value.median);

function label(id: LoadId | ColdId): string {
  if (id === "upstream") return "fake Cloudflare alone";
  return ARTEFACTS.find((artefact) => artefact.id === id)?.label ?? systemById(id as ColdSystemId).label;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n");
}

export function renderTable(summary: Summary): string {
  const { machine, options, load, upstreamUse, burst, coldStart, failover } = summary;
  const out: string[] = [];
  out.push(
    `turn-vend bench: ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, ${machine.os}; load average ${machine.loadAverageBefore} before, ${machine.loadAverageAfter ?? "?"} after`,
    `median [min–max] of ${options.runs} runs; fresh server process per run; upstream latency ${options.latencyMs} ms`,
    ...(machine.loadAverageBefore >= 1
      ? [
          `WARNING: the load average was ${machine.loadAverageBefore} at the start: something else was running, and the figures are skewed by it`,
        ]
      : []),
    "",
    `Load: autocannon, ${options.connections} connections, ${options.durationS} s after a ${options.warmupS} s warm-up`,
    table(
      ["system", "req/s", "× bare", "p50 ms", "p99 ms", "server CPU µs/req", "non-2xx / errors"],
      LOAD_IDS.map((id) => [
        label(id),
        withSpread(load[id].rps, int),
        `${load[id].rpsRatioToBare.toFixed(2)}×`,
        withSpread(load[id].p50Ms, ms),
        withSpread(load[id].p99Ms, ms),
        load[id].cpuUsPerRequest ? withSpread(load[id].cpuUsPerRequest!, int) : "n/a",
        String(load[id].notOk + load[id].errors),
      ]),
    ),
    "",
    `Latency added over the upstream: the system's minus the fake Cloudflare's own, in the same run`,
    table(
      [
        "system",
        `p99 added, ${options.connections} connections`,
        "p99 − configured latency",
        "p50 added, 1 connection",
        "p99 added, 1 connection",
      ],
      UPSTREAM_SYSTEMS.map((id) => [
        label(id),
        withSpread(summary.p99AddedOverUpstreamMs[id], ms),
        withSpread(summary.p99OverConfiguredLatencyMs[id], ms),
        withSpread(summary.unloadedAddedMs[id].p50, ms),
        withSpread(summary.unloadedAddedMs[id].p99, ms),
      ]),
    ),
    "",
    `Upstream use: ${options.countedRequests} requests counted exactly on a fresh process, ${options.connections} connections`,
    table(
      ["system", "upstream calls / request", "new upstream connections / 1,000 requests"],
      UPSTREAM_SYSTEMS.map((id) => [
        label(id),
        withSpread(upstreamUse[id].callsPerRequest, (value) => value.toFixed(3)),
        withSpread(upstreamUse[id].newConnectionsPer1000, (value) => value.toFixed(1)),
      ]),
    ),
    "",
    `Burst: ${options.burstRequests} concurrent requests, one connection each, upstream latency ${options.burstLatencyMs} ms`,
    table(
      ["system", "wall ms", `× ${options.burstLatencyMs} ms`, "server CPU ms", "client CPU ms", "failed"],
      SYSTEMS.map(({ id }) => [
        label(id),
        withSpread(burst[id].wallMs, int),
        `${burst[id].ratioToLatency.toFixed(1)}×`,
        burst[id].serverCpuMs ? withSpread(burst[id].serverCpuMs!, int) : "n/a",
        withSpread(burst[id].clientCpuMs, int),
        String(burst[id].failed),
      ]),
    ),
    "",
    `Cold start: fresh node, import the bundle (or the built artefact, through the host's runtime stand-in), listen, first response (upstream latency 0); ${options.coldStarts} runs, interleaved; load average ${summary.coldLoadAverage.before} as they began, ${summary.coldLoadAverage.after} as they ended`,
    "× bare: to the bare esbuild bundle; × floor: ours to the bare function built and started the same way, making the upstream call ours makes (if any)",
    table(
      ["system", "spawn → first response ms", "× bare", "× floor", "floor", "import done at ms", "listening → response ms"],
      COLD_IDS.map((id) => [
        label(id),
        withSpread(coldStart[id].totalMs, ms),
        `${coldStart[id].ratioToBare.toFixed(2)}×`,
        coldStart[id].ratioToFloor === undefined ? "" : `${coldStart[id].ratioToFloor!.toFixed(2)}×`,
        coldStart[id].floor ?? "",
        coldStart[id].importedAtMs ? withSpread(coldStart[id].importedAtMs!, ms) : "n/a",
        withSpread(coldStart[id].firstResponseMs, ms),
      ]),
    ),
    "",
    "Bundle size: esbuild, bundled + minified ESM, loaded at start; @redis/client and node: builtins external; gzip -9; KB = 1,024 bytes",
    table(
      ["entry", "minified", "gzipped", "lazy chunks", "largest parts (KB)"],
      summary.bundles.map((bundle) => [
        bundle.label,
        `${kb(bundle.bytes)} KB`,
        `${kb(bundle.gzipBytes)} KB`,
        bundle.lazyBytes ? `${kb(bundle.lazyBytes)} KB` : "none",
        bundle.composition
          .slice(0, 3)
          .map((part) => `${part.from} ${kb(part.bytes)}`)
          .join(", "),
      ]),
    ),
    "",
    "Built artefacts on disk: what the hosts deploy; every file, node_modules included; KB = 1,024 bytes",
    table(
      ["artefact", "zip", "on disk", "files", "in node_modules", "largest parts (KB)"],
      summary.artefacts.map((artefact) => [
        artefact.label,
        artefact.zipBytes === undefined ? "n/a" : `${kb(artefact.zipBytes)} KB`,
        `${kb(artefact.bytes)} KB`,
        String(artefact.files),
        `${kb(artefact.nodeModulesBytes)} KB`,
        artefact.parts
          .slice(0, 4)
          .map((part) => `${part.from} ${kb(part.bytes)}`)
          .join(", "),
      ]),
    ),
  );
  if (failover) {
    out.push(
      "",
      `Failover: provider 1 (Cloudflare fake) hangs, provider 2 is the shared secret; TURN_UPSTREAM_TIMEOUT_MS=${failover.budgetMs}`,
      table(
        ["system", "time to 200 ms", "over budget ms", "served by"],
        [
          ["ours", withSpread(failover.ms, int), ms(failover.ms.median - failover.budgetMs), [...new Set(failover.providers)].join(", ")],
          ["naive (seed)", failover.naive.outcome, "n/a", "nobody"],
        ],
      ),
    );
  }
  out.push("", "Targets (reported only; a miss never fails the run)");
  for (const target of summary.targets) out.push(`  ${target.pass ? "PASS" : "MISS"}  ${target.target}: ${target.measured}`);
  return out.join("\n");
}
