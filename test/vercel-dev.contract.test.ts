import { expect, it } from "vitest";
import { CONTRACT_TOKEN } from "./contract/cases.ts";
import { describeContract } from "./contract/vitest-suite.ts";
import { VERCEL_ROUTES } from "../scripts/artefacts/build.ts";
import { spawnLogged, type Spawned } from "./helpers/process.ts";
import { originForPath } from "./helpers/route-origin.ts";

// The Vercel functions (api/ice-servers.ts and the files under api/ice-servers/) under @vercel/node's
// dev runtime, the one `vercel dev` uses; each file is served on its own, as Vercel routes it.
let vercel: Spawned | undefined;
let others: Spawned[] = [];

async function portFrom(spawned: Spawned, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = /listening on (\d+)/.exec(spawned.output());
    if (match) return Number(match[1]);
    if (spawned.child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the Vercel dev runtime did not start:\n${spawned.output()}`);
}

describeContract(
  "Vercel function under @vercel/node's dev server",
  async (env) => {
    const functions = VERCEL_ROUTES.map((route) =>
      spawnLogged("node_modules/.bin/tsx", ["test/helpers/vercel-dev.ts", `${route.slice(1)}.ts`], { ...process.env, ...env }),
    );
    [vercel, ...others] = functions;
    const origins: Record<string, string> = {};
    for (const [index, route] of VERCEL_ROUTES.entries()) origins[route] = `http://127.0.0.1:${await portFrom(functions[index], 60_000)}`;
    return {
      send: (path, init) => fetch(`${originForPath(origins, path)}${path}`, init),
      close: async () => {
        for (const one of functions) await one.stop();
      },
    };
  },
  {
    // The dev server's proxy resolves `//evil.example/…` against itself and connects to that host
    // before the function runs; Vercel's launcher does not (the built .func runs this case).
    skip: { when: (testCase) => testCase.hostileTarget === true, why: "@vercel/node's dev proxy forwards a //host target to that host" },
  },
);

// Runs after the contract: by then every upstream fault has been logged.
it("the Vercel function never printed the API token", () => {
  // The 401 case logs an operator hint: seeing it proves the function\'s log is what is scanned.
  expect(vercel?.output()).toContain("OPERATOR: Cloudflare refused our credentials");
  expect(vercel!.output()).not.toContain(CONTRACT_TOKEN);
  for (const one of others) expect(one.output()).not.toContain(CONTRACT_TOKEN);
});
