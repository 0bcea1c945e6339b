/** Command-line flags, each with an environment variable and a default. */
import { parseArgs } from "node:util";

export interface BenchOptions {
  /** The fake Cloudflare's fixed latency under load, ms. */
  latencyMs: number;
  /** Repeated runs for every load figure; medians and min–max are over these. */
  runs: number;
  /** Length of one measured load run, seconds. */
  durationS: number;
  /** Load before each measured run, seconds: the JIT needs a few thousand requests to settle. */
  warmupS: number;
  /** A short run on one connection, where nothing queues: the latency one request sees. */
  unloadedS: number;
  connections: number;
  /** Requests counted exactly for calls and connections per request. */
  countedRequests: number;
  /** The burst's size and the upstream latency it meets. */
  burstRequests: number;
  burstLatencyMs: number;
  coldStarts: number;
  failoverRuns: number;
  failoverBudgetMs: number;
  /** Where the JSON goes, relative to the repository. */
  out: string;
}

const FLAGS = {
  latency: { env: "BENCH_LATENCY_MS", default: 20, help: "fixed latency of the fake Cloudflare under load, ms" },
  runs: { env: "BENCH_RUNS", default: 3, help: "runs per load figure (median and min–max over them)" },
  duration: { env: "BENCH_DURATION_S", default: 5, help: "seconds per measured load run" },
  connections: { env: "BENCH_CONNECTIONS", default: 10, help: "autocannon connections" },
  // 30: a cold start varies by several ms from one process to the next, and the targets are ratios read to ±0.03.
  "cold-starts": { env: "BENCH_COLD_STARTS", default: 30, help: "fresh processes per system for the cold start" },
  "failover-runs": { env: "BENCH_FAILOVER_RUNS", default: 5, help: "timed failovers" },
} as const;

function usage(): string {
  const lines = Object.entries(FLAGS).map(
    ([flag, spec]) => `${`  --${flag} N`.padEnd(22)}${spec.help} (${spec.env}, default ${spec.default})`,
  );
  return ["npm run bench -- [flags]", ...lines, `${"  --out PATH".padEnd(22)}JSON results (default bench/results/latest.json)`].join("\n");
}

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(Object.keys(FLAGS).map((flag) => [flag, { type: "string" as const }])),
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: false,
  });
  if (values.help) {
    console.log(usage());
    process.exit(0);
  }
  const read = (flag: keyof typeof FLAGS, min: number, max: number): number => {
    const spec = FLAGS[flag];
    const raw = (values as Record<string, string | boolean | undefined>)[flag] ?? process.env[spec.env];
    const value = raw === undefined || raw === "" ? spec.default : Number(raw);
    if (!Number.isInteger(value) || value < min || value > max)
      throw new Error(`--${flag} must be a whole number from ${min} to ${max}\n${usage()}`);
    return value;
  };
  return {
    latencyMs: read("latency", 0, 1000),
    runs: read("runs", 1, 10),
    durationS: read("duration", 1, 30),
    connections: read("connections", 1, 200),
    warmupS: 3,
    unloadedS: 2,
    countedRequests: 1000,
    burstRequests: 1000,
    burstLatencyMs: 50,
    coldStarts: read("cold-starts", 1, 30),
    failoverRuns: read("failover-runs", 1, 10),
    failoverBudgetMs: 1000,
    out: (values.out as string | undefined) ?? "bench/results/latest.json",
  };
}
