/** What the bench's child processes print when ready, and the fake's fixed key. */

/** Printed by bench/serve.ts, followed by a JSON ServeReady. */
export const SERVE_READY = "BENCH_READY ";

export interface ServeReady {
  /** Milliseconds from the child's start to the entry point being imported. */
  importedAt: number;
}

/** Printed by bench/fake-cloudflare-host.ts, followed by a JSON FakeReady. */
export const FAKE_READY = "BENCH_FAKE ";

export interface FakeReady {
  /** The base to configure as CLOUDFLARE_TURN_API_BASE. */
  apiBase: string;
  /** Where the parent reads counters and sets faults. */
  control: string;
}

/** What the fake does to every request until cleared: answer after `ms`, or never answer. */
export type BenchFault = { kind: "latency"; ms: number } | { kind: "hang" };

export interface FakeStats {
  requests: number;
  connections: number;
}

export const FAKE_KEY_ID = "bench-key";
export const FAKE_API_TOKEN = "bench-fake-token";
