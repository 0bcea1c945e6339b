/**
 * The Netlify Edge Function and the core under Deno's own runtime and test runner,
 * against the same fake Cloudflare (a real node:http server on 127.0.0.1) and the
 * same contract cases as the Node entry points.
 */
import { createService } from "../../shared/service.ts";
import { contractCases, contractEnv, CONTRACT_KEY_ID, CONTRACT_TOKEN, type ContractTarget } from "../contract/cases.ts";
import { chainEnv } from "../contract/chain-cases.ts";
import { closeChainFakes, resetChainFakes, startChainFakes } from "../contract/chain-fakes.ts";
import {
  forgedGeoHeaders,
  IN_BRAZIL,
  IN_CHINA,
  IN_GERMANY,
  NOWHERE,
  ROUTED_TURN_PROVIDERS,
  SIDES,
  TURN_ROUTES,
} from "../contract/routing-callers.ts";
import { startFakeCloudflare } from "../fake-cloudflare.ts";

// This file's own instance of the service.
const { handle } = createService();

type Handler = (request: Request, context: { ip?: string; geo?: { country?: { code: string } } }) => Promise<Response>;

async function runContract(t: Deno.TestContext, makeSend: (env: Record<string, string>) => Promise<ContractTarget["send"]>) {
  const fake = await startFakeCloudflare({ keyId: CONTRACT_KEY_ID, apiToken: CONTRACT_TOKEN });
  try {
    const send = await makeSend(contractEnv(fake));
    for (const testCase of contractCases) {
      fake.reset();
      await t.step(testCase.name, () => testCase.run({ send, fake }));
    }
  } finally {
    await fake.close();
  }
}

Deno.test("contract: Netlify Edge Function under Deno", async (t) => {
  await runContract(t, async (env) => {
    // What Netlify's edge runtime provides: the Netlify global, and a context argument.
    (globalThis as Record<string, unknown>).Netlify = { env: { toObject: () => ({ ...env }) } };
    const edge: Handler = (await import("../../netlify/edge-functions/ice-servers.ts")).default;
    return (path, init) => edge(new Request(`http://localhost${path}`, init), { ip: "127.0.0.1" });
  });
});

Deno.test("contract: core handle() under Deno", async (t) => {
  await runContract(t, async (env) => (path, init) => handle(new Request(`http://localhost${path}`, init), env));
});

Deno.test("the edge function declares no route of its own: netlify.toml opts in", async () => {
  const edgeModule = await import("../../netlify/edge-functions/ice-servers.ts");
  if ("config" in edgeModule) throw new Error("an inline config.path would answer /api/ice-servers from two functions");
  const toml = await Deno.readTextFile(new URL("../../netlify.toml", import.meta.url));
  const active = toml
    .split("\n")
    .filter((line) => !line.trim().startsWith("#"))
    .join("\n");
  if (active.includes("[[edge_functions]]")) throw new Error("the edge route must be opt-in (commented out) in netlify.toml");
});

Deno.test("TURN_ROUTES: the Edge Function routes by context.geo, never by a geo header", async (t) => {
  const fakes = await startChainFakes();
  try {
    const env = chainEnv(fakes, { TURN_PROVIDERS: ROUTED_TURN_PROVIDERS, TURN_ROUTES });
    (globalThis as Record<string, unknown>).Netlify = { env: { toObject: () => ({ ...env }) } };
    const edge: Handler = (await import("../../netlify/edge-functions/ice-servers.ts")).default;
    for (const caller of [IN_CHINA, IN_GERMANY, IN_BRAZIL, NOWHERE]) {
      await t.step(caller.name, async () => {
        resetChainFakes(fakes);
        // Netlify's geo names the country alone; the headers claim somewhere else.
        const geo = caller.place ? { country: { code: caller.place.country } } : {};
        const headers = caller === IN_CHINA ? forgedGeoHeaders("DE", "EU") : forgedGeoHeaders("CN", "AS");
        const response = await edge(new Request("http://localhost/api/ice-servers", { headers }), { ip: "127.0.0.1", geo });
        const body = await response.json();
        if (response.status !== 200 || body.provider !== caller.provider) throw new Error(`${response.status} ${JSON.stringify(body)}`);
        const asked = SIDES.filter((side) => fakes[side].requests.length > 0);
        if (asked.join() !== caller.provider) throw new Error(`asked ${asked.join()}, not ${caller.provider} alone`);
      });
    }
  } finally {
    await closeChainFakes(fakes);
  }
});
