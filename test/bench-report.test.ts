/**
 * The bench's cold-start verdicts: each shipped artefact is held to its own host's bare artefact
 * (1.15×), our esbuild bundle to the bare bundle (1.1×), the bare function making the upstream call
 * where ours makes one, and the load average of the cold starts is reported with them. Summarized
 * from hand-made samples, so the arithmetic is checked, not the machine.
 */
import { describe, expect, it } from "vitest";
import type { ColdSample } from "../bench/cold-start.ts";
import type { LoadSample } from "../bench/load.ts";
import { parseOptions } from "../bench/options.ts";
import { COLD_IDS, renderTable, summarize, type ColdId, type Raw } from "../bench/report.ts";
import { SYSTEMS } from "../bench/systems.ts";

const COLD_MS: Record<ColdId, number> = {
  bare: 50,
  naive: 70,
  "bare-call": 54,
  "ours-cloudflare": 58.32, // 1.08× the bare bundle making the call: met, though 1.17× the bare bundle
  "ours-shared-secret": 60, // 1.2× the bare bundle: missed
  "netlify-bare": 60,
  "netlify-bare-call": 62,
  "netlify-artefact": 68.2, // 1.1× Netlify's bare making the call: met, though 1.36× the bare bundle
  "netlify-artefact-secret": 72, // 1.2× Netlify's bare: missed
  "vercel-bare": 55,
  "vercel-bare-call": 60,
  "vercel-artefact": 72, // 1.2× Vercel's bare making the call: missed
  "vercel-artefact-secret": 60.5, // 1.1× Vercel's bare: met
};

const cold = (ms: number): ColdSample[] => [ms - 2, ms, ms + 5].map((totalMs) => ({ totalMs, firstResponseMs: 20 }));
const load: LoadSample = { rps: 1000, p50Ms: 1, p99Ms: 2, ok: 1000, notOk: 0, errors: 0 };
const bySystem = <T>(make: () => T) =>
  Object.fromEntries(SYSTEMS.map(({ id }) => [id, make()])) as Record<(typeof SYSTEMS)[number]["id"], T>;

function raw(): Raw {
  return {
    load: { ...bySystem(() => [load]), upstream: [load] },
    unloaded: { naive: [load], "ours-cloudflare": [load], upstream: [load] },
    counted: bySystem(() => [{ ok: 1000, notOk: 0, errors: 0, upstreamCalls: 1000, newConnections: 10 }]),
    burst: bySystem(() => [{ wallMs: 100, ok: 1000, failed: 0, clientCpuMs: 50 }]),
    cold: Object.fromEntries(COLD_IDS.map((id) => [id, cold(COLD_MS[id])])) as Raw["cold"],
    coldLoadAverage: { before: 3.09, after: 2.92 },
    bundles: [],
    artefacts: [],
    failover: undefined,
  };
}

const machine = { cpus: 2, cpuModel: "test", node: "v20", os: "linux", memoryGiB: 1, date: "", loadAverageBefore: 0.5 };

describe("bench cold-start report", () => {
  const summary = summarize(raw(), parseOptions([]), machine, 1);
  const verdict = (words: string) => summary.targets.find((target) => target.target.includes(words));

  it("divides each of ours by its own floor: its host's bare artefact, making the call where ours makes one", () => {
    expect(summary.coldStart["netlify-artefact"].ratioToFloor).toBeCloseTo(68.2 / 62, 5);
    expect(summary.coldStart["vercel-artefact"].ratioToFloor).toBeCloseTo(72 / 60, 5);
    expect(summary.coldStart["netlify-artefact"].ratioToBare).toBeCloseTo(68.2 / 50, 5);
    expect(summary.coldStart["netlify-artefact-secret"].ratioToFloor).toBeCloseTo(72 / 60, 5);
    expect(summary.coldStart["vercel-artefact-secret"].ratioToFloor).toBeCloseTo(60.5 / 55, 5);
    expect(summary.coldStart["ours-cloudflare"].ratioToFloor).toBeCloseTo(58.32 / 54, 5);
    expect(summary.coldStart["ours-shared-secret"].ratioToFloor).toBeCloseTo(60 / 50, 5);
    expect(summary.coldStart["ours-cloudflare"].floor).toBe("bare-call");
    expect(summary.coldStart["netlify-artefact"].floor).toBe("netlify-bare-call");
    for (const id of ["bare", "bare-call", "naive", "netlify-bare", "netlify-bare-call", "vercel-bare", "vercel-bare-call"] as const)
      expect(summary.coldStart[id].ratioToFloor).toBeUndefined();
  });

  it("marks each target met or missed against its own limit, with the load average", () => {
    expect(verdict("(ours, Cloudflare, Netlify zip)")).toMatchObject({
      target: "cold start ≤ 1.15× bare function + its upstream call, Netlify zip (ours, Cloudflare, Netlify zip)",
      pass: true,
      measured: "68.2 / 62.0 ms = 1.10× (load average 3.09–2.92)",
    });
    expect(verdict("(ours, Cloudflare, Vercel .func)")).toMatchObject({
      pass: false,
      measured: "72.0 / 60.0 ms = 1.20× (load average 3.09–2.92)",
    });
    expect(verdict("(ours, shared secret, Netlify zip)")?.pass).toBe(false);
    expect(verdict("(ours, shared secret, Vercel .func)")).toMatchObject({
      pass: true,
      measured: "60.5 / 55.0 ms = 1.10× (load average 3.09–2.92)",
    });
    expect(verdict("(ours, Cloudflare)")).toMatchObject({
      target: "cold start ≤ 1.1× bare function + its upstream call (ours, Cloudflare)",
      pass: true,
    });
    expect(verdict("(ours, shared secret)")).toMatchObject({
      target: "cold start ≤ 1.1× bare function (ours, shared secret)",
      pass: false,
    });
    expect(summary.targets.filter((target) => target.target.startsWith("cold start"))).toHaveLength(6);
  });

  it("prints the per-host ratio beside the ratio to the bare bundle", () => {
    const line = renderTable(summary)
      .split("\n")
      .find((row) => row.startsWith("ours, Cloudflare, Vercel .func"));
    expect(line).toMatch(/1\.44×\s+1\.20×\s+vercel-bare-call/);
    expect(renderTable(summary)).toContain("load average 3.09 as they began, 2.92 as they ended");
  });
});
