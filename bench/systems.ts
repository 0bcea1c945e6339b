/**
 * The systems under test, each served the same way: a fresh `node` process
 * running bench/serve.ts over one bundled entry point (see bench/build.ts).
 */
import { randomBytes } from "node:crypto";
import { ICE_SERVERS_PATH } from "../shared/handle.ts";
import { freePort } from "../scripts/lib/process.ts";
import type { Built, EntryName } from "./build.ts";
import { cleanEnv, launchNode, type Running } from "./children.ts";
import type { ColdSubject } from "./cold-start.ts";
import { FAKE_KEY_ID, SERVE_READY, type FakeReady, type ServeReady } from "./protocol.ts";

export type SystemId = "bare" | "naive" | "ours-cloudflare" | "ours-shared-secret";
/** Systems only cold-started: floors, not contenders. */
export type FloorSystemId = "bare-call";
export type ColdSystemId = SystemId | FloorSystemId;

export interface SystemOf<Id extends ColdSystemId> {
  id: Id;
  label: string;
  entry: EntryName;
  env(fake: FakeReady): Record<string, string>;
  /** Upstream calls its first answer makes: the bench checks each cold start made exactly these. */
  upstreamCalls: 0 | 1;
  /** What its cold start is held to: the bare function doing what this configuration cannot skip. */
  floor?: ColdSystemId;
}
export type System = SystemOf<SystemId>;

/**
 * Our defaults, except the rate limit: the default (60 a minute per address, in
 * memory) would refuse a load from one address at once. Set this high, the limiter
 * still counts every request, and never refuses one.
 */
const OURS = { RATE_LIMIT: "9999999/1s" };

const cloudflareEnv = (fake: FakeReady) => ({
  CLOUDFLARE_TURN_KEY_ID: FAKE_KEY_ID,
  CLOUDFLARE_TURN_KEY_API_TOKEN: fake.apiToken,
  CLOUDFLARE_TURN_API_BASE: fake.apiBase,
});

// Made for each run, as long as a real one (openssl rand -hex 32): no secret-shaped literal in the repository.
const BENCH_SHARED_SECRET = randomBytes(32).toString("hex");

const sharedSecretEnv = () => ({
  TURN_SHARED_SECRET: BENCH_SHARED_SECRET,
  TURN_URLS:
    "stun:turn.example.com:3478,turn:turn.example.com:3478?transport=udp,turn:turn.example.com:443?transport=tcp,turns:turn.example.com:5349?transport=tcp",
});

export const SYSTEMS: readonly System[] = [
  { id: "bare", label: "bare function", entry: "bare", env: () => ({}), upstreamCalls: 0 },
  { id: "naive", label: "naive (seed)", entry: "naive", env: cloudflareEnv, upstreamCalls: 1 },
  {
    id: "ours-cloudflare",
    label: "ours, Cloudflare",
    entry: "netlify",
    env: (fake) => ({ ...OURS, ...cloudflareEnv(fake) }),
    upstreamCalls: 1,
    floor: "bare-call",
  },
  {
    id: "ours-shared-secret",
    label: "ours, shared secret",
    entry: "netlify",
    env: () => ({ ...OURS, ...sharedSecretEnv() }),
    upstreamCalls: 0,
    floor: "bare",
  },
];

/**
 * The bare function with Cloudflare's variables: it makes the one upstream call first
 * (bench/systems/bare.ts). Our Cloudflare configuration's first answer waits for that call, which
 * the plain bare function does not make.
 */
const BARE_CALL: SystemOf<FloorSystemId> = {
  id: "bare-call",
  label: "bare function + its upstream call",
  entry: "bare",
  env: cloudflareEnv,
  upstreamCalls: 1,
};

export const COLD_SYSTEMS: readonly SystemOf<ColdSystemId>[] = [...SYSTEMS, BARE_CALL];

export const systemById = <Id extends ColdSystemId>(id: Id): SystemOf<Id> =>
  COLD_SYSTEMS.find((system) => system.id === id) as SystemOf<Id>;

/** Provider 1 is the Cloudflare fake, provider 2 the local shared secret. */
export function failoverEnv(fake: FakeReady, upstreamTimeoutMs: number): Record<string, string> {
  return {
    ...OURS,
    ...cloudflareEnv(fake),
    ...sharedSecretEnv(),
    TURN_PROVIDERS: "cloudflare,shared-secret",
    TURN_UPSTREAM_TIMEOUT_MS: String(upstreamTimeoutMs),
  };
}

/** Starts `entry` in a fresh node process with only `env` (and PATH, HOME) set. */
export async function serveEntry(built: Built, entry: EntryName, env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const child = await launchNode<ServeReady>(
    [built.serve, built.entries[entry].file],
    cleanEnv({ ...env, BENCH_PORT: String(port) }),
    SERVE_READY,
  );
  return {
    url: `http://127.0.0.1:${port}${ICE_SERVERS_PATH}`,
    pid: child.spawned.child.pid,
    child,
    importedAtMs: child.ready.importedAt,
    stop: child.stop,
  };
}

export function startSystem(built: Built, system: SystemOf<ColdSystemId>, fake: FakeReady): Promise<Running> {
  return serveEntry(built, system.entry, system.env(fake));
}

/** A system as the cold start times it: its bundle, served by bench/serve.ts. */
export const coldSubjectOf = <Id extends ColdSystemId>(built: Built, system: SystemOf<Id>): ColdSubject<Id> => ({
  id: system.id,
  label: system.label,
  upstreamCalls: system.upstreamCalls,
  start: (fake) => startSystem(built, system, fake),
});
