import { expect, it } from "vitest";
import { CONTRACT_TOKEN } from "./contract/cases.ts";
import { describeContract } from "./contract/vitest-suite.ts";
import { startDenoServe, type DenoServe } from "./helpers/deno-serve.ts";
import { describeHostChain } from "./helpers/host-chain.ts";

// The Deno Deploy entry (deno/serve.ts) under `deno task serve`: Deno's own runtime and server.
let deno: DenoServe | undefined;

describeContract("Deno Deploy entry under deno task serve", async (env) => {
  deno = await startDenoServe(env);
  return {
    send: (path, init) => fetch(`${deno!.origin}${path}`, init),
    close: () => deno!.close(),
  };
});

// Runs after the contract: by then every upstream fault has been logged.
it("deno serve never printed the API token", () => {
  // The 401 case logs an operator hint: seeing it proves the server's log is what is scanned.
  expect(deno?.server.output()).toContain("OPERATOR: Cloudflare refused our credentials");
  expect(deno!.server.output()).not.toContain(CONTRACT_TOKEN);
});

describeHostChain("the Deno Deploy entry under deno task serve", async (env) => {
  const started = await startDenoServe(env);
  return { origin: started.origin, output: () => started.server.output(), close: () => started.close() };
});
