import { expect, it } from "vitest";
import { CONTRACT_TOKEN } from "./contract/cases.ts";
import { describeContract } from "./contract/vitest-suite.ts";
import { IN_CHINA, NOWHERE } from "./contract/routing-callers.ts";
import { describeRouting } from "./contract/routing-cases.ts";
import { describeHostChain } from "./helpers/host-chain.ts";
import { startWranglerDev, type WranglerDev } from "./helpers/wrangler-dev.ts";

// The Worker (workers/ice-servers.ts) as Cloudflare's own CLI serves it: workerd, offline.
let wrangler: WranglerDev | undefined;

describeContract("Cloudflare Worker under wrangler dev (workerd)", async (env) => {
  wrangler = await startWranglerDev(env);
  return {
    send: (path, init) => fetch(`${wrangler!.origin}${path}`, init),
    close: () => wrangler!.close(),
  };
});

// Runs after the contract: by then every upstream fault has been logged.
it("wrangler dev never printed the API token", () => {
  // The 401 case logs an operator hint: seeing it proves the Worker's log is what is scanned.
  expect(wrangler?.worker.output()).toContain("OPERATOR: Cloudflare refused our credentials");
  expect(wrangler!.worker.output()).not.toContain(CONTRACT_TOKEN);
});

describeHostChain("the Worker under wrangler dev (workerd)", async (env) => {
  const started = await startWranglerDev(env);
  return { origin: started.origin, output: () => started.worker.output(), close: () => started.close() };
});

// request.cf is the same for every request wrangler dev serves: one run places every caller in
// China, another nowhere (no country, as for a request Cloudflare could not place).
for (const caller of [IN_CHINA, NOWHERE]) {
  describeRouting(
    `the Worker under wrangler dev, request.cf ${JSON.stringify(caller.place ?? {})}`,
    [caller],
    async (env) => {
      const started = await startWranglerDev(env, caller.place);
      return { ask: (_, headers) => fetch(`${started.origin}/api/ice-servers`, { headers }), close: () => started.close() };
    },
    // One run shows the refusal.
    { badRoutes: caller === IN_CHINA },
  );
}
