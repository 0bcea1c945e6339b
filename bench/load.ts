/**
 * Load from autocannon, run in this process against a system in its own process.
 * Latencies are taken from autocannon's per-response times (fractions of a
 * millisecond), not from its histogram, which rounds to whole milliseconds.
 */
import autocannon from "autocannon";
import { cpuMs } from "./children.ts";
import { percentile } from "./stats.ts";

export interface Target {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadSample {
  /** 2xx answers per second. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  notOk: number;
  errors: number;
  /** CPU the serving process used per 2xx answer, in microseconds (Linux only). */
  cpuUsPerRequest?: number;
  /** The serving process's CPU time over wall time: near 1 means it was the bottleneck. */
  cpuShare?: number;
}

export interface CountedSample {
  ok: number;
  notOk: number;
  errors: number;
}

const GRACE_MS = 15_000;

/** Runs autocannon, and stops it anyway if it overruns its own length by GRACE_MS. */
async function bounded(
  options: Parameters<typeof autocannon>[0],
  onResponse?: (status: number, ms: number) => void,
): Promise<Awaited<ReturnType<typeof autocannon>>> {
  const instance = autocannon({ timeout: 10, ...options });
  if (onResponse) instance.on("response", (_client, status, _bytes, ms) => onResponse(status, ms));
  const limitMs = (options.duration ?? 0) * 1000 + GRACE_MS + (options.amount ?? 0) * 10;
  const guard = setTimeout(() => instance.stop(), limitMs);
  try {
    return await instance;
  } finally {
    clearTimeout(guard);
  }
}

/** A timed closed-loop run: `connections` clients, each sending its next request as soon as the last is answered. */
export async function loadFor(target: Target, connections: number, durationS: number, servingPid?: number): Promise<LoadSample> {
  const latencies: number[] = [];
  const cpuBefore = cpuMs(servingPid);
  const wallBefore = performance.now();
  const result = await bounded({ ...target, connections, duration: durationS }, (status, ms) => {
    if (status >= 200 && status <= 299) latencies.push(ms);
  });
  const wallMs = performance.now() - wallBefore;
  const cpuAfter = cpuMs(servingPid);
  const ok = result["2xx"];
  const cpu = cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined;
  return {
    rps: ok / result.duration,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ok,
    notOk: result.non2xx,
    // autocannon counts a timeout in `errors` too.
    errors: result.errors,
    cpuUsPerRequest: cpu !== undefined && ok > 0 ? (cpu * 1000) / ok : undefined,
    cpuShare: cpu !== undefined ? cpu / wallMs : undefined,
  };
}

/** Exactly `amount` requests over `connections` clients, all answered before it returns. */
export async function loadCount(target: Target, connections: number, amount: number): Promise<CountedSample> {
  const result = await bounded({ ...target, connections, amount });
  return { ok: result["2xx"], notOk: result.non2xx, errors: result.errors };
}
