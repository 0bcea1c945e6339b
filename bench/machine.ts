/** The machine a result came from. */
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg, release, totalmem } from "node:os";

export interface Machine {
  /** What `nproc` reports. */
  cpus: number;
  /** From /proc/cpuinfo. */
  cpuModel: string;
  node: string;
  os: string;
  memoryGiB: number;
  date: string;
  /** The 1-minute load average as the bench started: anything else running skews the figures. */
  loadAverageBefore: number;
  /** The same as it ended. */
  loadAverageAfter?: number;
}

function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** The 1-minute load average, to two decimals. */
export const loadAverage = () => Number(loadavg()[0].toFixed(2));

export function machine(): Machine {
  return {
    cpus: availableParallelism(),
    cpuModel: cpuModel(),
    node: process.version,
    os: `${process.platform} ${release()}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    date: new Date().toISOString(),
    loadAverageBefore: loadAverage(),
  };
}
