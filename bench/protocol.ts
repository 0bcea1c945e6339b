/** What the bench's child processes print when ready, and the fake's fixed key. */

/** Printed by bench/serve.ts, followed by a JSON ReadyLine. */
export const SERVE_READY = "BENCH_READY ";

export interface ServeReady {
  port: number;
  /** Milliseconds from the child's start to the entry point being imported. */
  importedAt: number;
  /** Milliseconds from the child's start to the server listening. */
  listeningAt: number;
}

/** Printed by bench/fake-cloudflare-host.ts, followed by a JSON FakeReady. */
export const FAKE_READY = "BENCH_FAKE ";

export interface FakeReady {
  /** The base to configure as CLOUDFLARE_TURN_API_BASE. */
  apiBase: string;
  /** The fake's own origin, to load it directly. */
  origin: string;
  /** Where the parent reads counters and sets faults. */
  control: string;
}

export interface FakeStats {
  requests: number;
  connections: number;
}

export const FAKE_KEY_ID = "bench-key";
export const FAKE_API_TOKEN = "bench-fake-token";
