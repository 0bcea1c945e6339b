/** What the bench's child processes print when ready, and how the fake learns its API token. */

/** Printed by bench/serve.ts, followed by a JSON ServeReady. */
export const SERVE_READY = "BENCH_READY ";

export interface ServeReady {
  /** Milliseconds from the child's start to the entry point being imported. */
  importedAt: number;
}

/** Printed by bench/fake-cloudflare-host.ts, followed by a JSON FakeListening. */
export const FAKE_READY = "BENCH_FAKE ";

/** The environment variable that gives bench/fake-cloudflare-host.ts the one API token it accepts. */
export const FAKE_TOKEN_VARIABLE = "BENCH_FAKE_API_TOKEN";

export interface FakeListening {
  /** The base to configure as CLOUDFLARE_TURN_API_BASE. */
  apiBase: string;
  /** Where the parent reads counters and sets faults. */
  control: string;
}

/** The fake as the bench's side knows it: where it listens, and the token it was started with. */
export interface FakeReady extends FakeListening {
  /** Made for each run (bench/upstream.ts), configured as CLOUDFLARE_TURN_KEY_API_TOKEN. */
  apiToken: string;
}

/** What the fake does to every request until cleared: answer after `ms`, or never answer. */
export type BenchFault = { kind: "latency"; ms: number } | { kind: "hang" };

export interface FakeStats {
  requests: number;
  connections: number;
}

export const FAKE_KEY_ID = "bench-key";
