import { expect, it } from "vitest";
import { CONTRACT_TOKEN } from "./contract/cases.ts";
import { describeContract } from "./contract/vitest-suite.ts";
import { spawnLogged, type Spawned } from "./helpers/process.ts";

// The Vercel function's entry (vercel/ice-servers.ts, which the build bundles into every route's
// .func) under @vercel/node's dev runtime: Vercel's own Node launcher calling its `fetch` export,
// from the TypeScript source. `vercel dev` itself runs `npm start` (vercel.json devCommand); the
// built .func runs the contract in test/artefacts.contract.test.ts.
let vercel: Spawned | undefined;

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
    const server = spawnLogged("node_modules/.bin/tsx", ["test/helpers/vercel-dev.ts", "vercel/ice-servers.ts"], {
      ...process.env,
      ...env,
    });
    vercel = server;
    const origin = `http://127.0.0.1:${await portFrom(server, 60_000)}`;
    return { send: (path, init) => fetch(`${origin}${path}`, init), close: () => server.stop() };
  },
  {
    // The dev server's proxy resolves `//evil.example/…` against itself and connects to that host
    // before the function runs; Vercel's launcher does not (the built .func runs this case).
    skip: { when: (testCase) => testCase.hostileTarget === true, why: "@vercel/node's dev proxy forwards a //host target to that host" },
  },
);

// Runs after the contract: by then every upstream fault has been logged.
it("the Vercel function never printed the API token", () => {
  // The 401 case logs an operator hint: seeing it proves the function's log is what is scanned.
  expect(vercel?.output()).toContain("OPERATOR: Cloudflare refused our credentials");
  expect(vercel!.output()).not.toContain(CONTRACT_TOKEN);
});
