/** The bench's side of the fake Cloudflare API, which runs in its own process (bench/fake-cloudflare-host.ts). */
import { randomBytes } from "node:crypto";
import type { Built } from "./build.ts";
import { cleanEnv, launchNode } from "./children.ts";
import { sendJson } from "./http.ts";
import {
  FAKE_KEY_ID,
  FAKE_READY,
  FAKE_TOKEN_VARIABLE,
  type BenchFault,
  type FakeListening,
  type FakeReady,
  type FakeStats,
} from "./protocol.ts";

export interface FakeCloudflareProcess {
  ready: FakeReady;
  pid: number | undefined;
  stats(): Promise<FakeStats>;
  /** Forgets requests, connections and faults. */
  reset(): Promise<void>;
  setFault(fault: BenchFault | undefined): Promise<void>;
  /** Every request is answered after `ms` (0: at once). */
  setLatency(ms: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startFakeCloudflareProcess(built: Built): Promise<FakeCloudflareProcess> {
  // A token of this run's own, so that no credential-shaped literal lives in the repository.
  const apiToken = randomBytes(24).toString("hex");
  const child = await launchNode<FakeListening>([built.fakeHost], cleanEnv({ [FAKE_TOKEN_VARIABLE]: apiToken }), FAKE_READY);
  const control = child.ready.control;
  const post = (path: string, body: unknown) =>
    sendJson<unknown>(`${control}${path}`, { method: "POST", body: JSON.stringify(body ?? null), timeoutMs: 5000 });
  const setFault = async (fault: BenchFault | undefined) => void (await post("/fault", fault));
  return {
    ready: { ...child.ready, apiToken },
    pid: child.spawned.child.pid,
    stats: () => sendJson<FakeStats>(`${control}/stats`, { timeoutMs: 5000 }),
    reset: async () => void (await post("/reset", null)),
    setFault,
    setLatency: (ms) => setFault(ms > 0 ? { kind: "latency", ms } : undefined),
    stop: child.stop,
  };
}

/** The request our Cloudflare provider sends, to load the fake directly: the upstream's own latency. */
export function directUpstreamRequest(fake: FakeReady): { url: string; method: string; headers: Record<string, string>; body: string } {
  return {
    url: `${fake.apiBase}/turn/keys/${FAKE_KEY_ID}/credentials/generate-ice-servers`,
    method: "POST",
    headers: { authorization: `Bearer ${fake.apiToken}`, "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ ttl: 86400 }),
  };
}
