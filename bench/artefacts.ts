/**
 * What the hosts deploy, beside the esbuild bundles: `netlify build` and `vercel build`, run once
 * per bench with the builders the tests use (scripts/artefacts/build.ts), measured on disk, and started
 * for the cold start by the stand-ins for the hosts' runtimes the tests use (scripts/artefacts/*-runtime.mjs),
 * each in a fresh `node` process like every other system.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { ICE_SERVERS_PATH } from "../shared/handle.ts";
import { buildNetlify, buildVercel } from "../scripts/artefacts/build.ts";
import { buildBareArtefacts } from "./bare-host.ts";
import { ROOT } from "./build.ts";
import { cleanEnv, launchNode } from "./children.ts";
import type { ColdSubject } from "./cold-start.ts";
import { diskUsage, type DiskUsage } from "./disk-usage.ts";
import type { FakeReady } from "./protocol.ts";
import type { Running } from "./children.ts";
import { systemById, type ColdSystemId } from "./systems.ts";

export type ArtefactId =
  | "netlify-bare"
  | "netlify-bare-call"
  | "netlify-artefact"
  | "netlify-artefact-secret"
  | "vercel-bare"
  | "vercel-bare-call"
  | "vercel-artefact"
  | "vercel-artefact-secret";

/**
 * Each host's bare artefact (bench/bare-host.ts) is the floor of what the same host ships of ours: the
 * cold start of each shipped artefact is reported as a ratio to its `floor`. Each runs in the environment
 * of a system. Ours with Cloudflare waits for one upstream call before its first answer, so its floor is
 * the same bare artefact making that call (the "bare-call" system); ours with the shared secret makes
 * none, so its floor is the bare artefact as it is.
 */
export const ARTEFACTS: readonly { id: ArtefactId; label: string; floor?: ArtefactId; system?: ColdSystemId }[] = [
  { id: "netlify-bare", label: "bare function, Netlify zip" },
  { id: "netlify-bare-call", label: "bare function + its upstream call, Netlify zip", system: "bare-call" },
  { id: "netlify-artefact", label: "ours, Cloudflare, Netlify zip", floor: "netlify-bare-call", system: "ours-cloudflare" },
  { id: "netlify-artefact-secret", label: "ours, shared secret, Netlify zip", floor: "netlify-bare", system: "ours-shared-secret" },
  { id: "vercel-bare", label: "bare function, Vercel .func" },
  { id: "vercel-bare-call", label: "bare function + its upstream call, Vercel .func", system: "bare-call" },
  { id: "vercel-artefact", label: "ours, Cloudflare, Vercel .func", floor: "vercel-bare-call", system: "ours-cloudflare" },
  { id: "vercel-artefact-secret", label: "ours, shared secret, Vercel .func", floor: "vercel-bare", system: "ours-shared-secret" },
];

export interface ArtefactSize extends DiskUsage {
  id: ArtefactId;
  /** What was measured: the unzipped function, or the route's .func folder. */
  label: string;
  /** Netlify uploads a zip; Vercel a folder, so undefined there. */
  zipBytes?: number;
  /** The Node the host would run it on; the bench runs it on its own. */
  runtime: string;
}

export interface Artefacts {
  coldSubjects: ColdSubject<ArtefactId>[];
  sizes: ArtefactSize[];
  /** Lines of the build logs that look like a problem (the tests fail on them; the bench reports them). */
  complaints: string[];
  /** Deletes the copies the builders made outside the repository. */
  remove(): void;
}

/** What scripts/artefacts/serve.mjs prints once it listens, followed by the port (a JSON number). */
const LISTENING = "listening on ";

async function startRuntime(args: string[], env: Record<string, string>): Promise<Running> {
  const child = await launchNode<unknown>(args, cleanEnv(env), LISTENING);
  if (typeof child.ready !== "number") throw new Error(`node ${args.join(" ")} printed no port after "${LISTENING}"`);
  // The runtime stand-ins do not report when the import finished: only the parent's clock times them.
  return {
    url: `http://127.0.0.1:${child.ready}${ICE_SERVERS_PATH}`,
    pid: child.spawned.child.pid,
    child,
    importedAtMs: undefined,
    stop: child.stop,
  };
}

/** The environment of the system an artefact stands for (the bare ones: the bare function's, none). */
const envOf = (system: ColdSystemId | undefined, fake: FakeReady) => systemById(system ?? "bare").env(fake);

/** One after the other, as the tests build them: each CLI writes its own folder in the repository (or the bare project). */
export async function buildArtefacts(): Promise<Artefacts> {
  const netlify = await buildNetlify();
  const vercel = await buildVercel();
  const bare = await buildBareArtefacts();
  const vercelFunc = vercel.funcs[ICE_SERVERS_PATH];
  const runtime = (name: string) => join(ROOT, "scripts/artefacts", name);
  const commands: Record<ArtefactId, string[]> = {
    "netlify-bare": [runtime("netlify-runtime.mjs"), bare.netlify.dir, bare.netlify.mainFile],
    "netlify-bare-call": [runtime("netlify-runtime.mjs"), bare.netlify.dir, bare.netlify.mainFile],
    "netlify-artefact": [runtime("netlify-runtime.mjs"), netlify.dir, netlify.mainFile],
    "netlify-artefact-secret": [runtime("netlify-runtime.mjs"), netlify.dir, netlify.mainFile],
    "vercel-bare": [runtime("vercel-runtime.mjs"), bare.vercelFunc],
    "vercel-bare-call": [runtime("vercel-runtime.mjs"), bare.vercelFunc],
    "vercel-artefact": [runtime("vercel-runtime.mjs"), vercelFunc],
    "vercel-artefact-secret": [runtime("vercel-runtime.mjs"), vercelFunc],
  };
  return {
    coldSubjects: ARTEFACTS.map(({ id, label, system }) => ({
      id,
      label,
      upstreamCalls: systemById(system ?? "bare").upstreamCalls,
      start: (fake) => startRuntime(commands[id], envOf(system, fake)),
    })),
    sizes: [
      {
        id: "netlify-artefact",
        label: "Netlify zip (netlify build), unzipped",
        zipBytes: netlify.zipBytes,
        runtime: netlify.runtimeVersion,
        ...diskUsage(netlify.dir),
      },
      { id: "vercel-artefact", label: "Vercel api/ice-servers.func (vercel build)", runtime: vercel.runtime, ...diskUsage(vercelFunc) },
    ],
    complaints: [
      ...netlify.complaints.map((line) => `netlify build: ${line}`),
      ...vercel.complaints.map((line) => `vercel build: ${line}`),
      ...bare.netlify.complaints.map((line) => `netlify build (bare): ${line}`),
      ...bare.vercel.complaints.map((line) => `vercel build (bare): ${line}`),
    ],
    remove: () => {
      for (const dir of [netlify.tempDir, vercel.tempDir]) rmSync(dir, { recursive: true, force: true });
      bare.remove();
    },
  };
}
