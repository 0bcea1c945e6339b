import { expect, it } from "vitest";
import { CONTRACT_TOKEN } from "./contract/cases.ts";
import { describeContract } from "./contract/vitest-suite.ts";
import { freePort, spawnLogged, waitForHttp, type Spawned } from "./helpers/process.ts";

// The Netlify function (functions/ice-servers.mts) as Netlify's own CLI serves it, offline.
let netlify: Spawned | undefined;

describeContract("Netlify function under netlify dev --offline", async (env) => {
  const port = await freePort();
  netlify = spawnLogged("node_modules/.bin/netlify", ["dev", "--offline", "--port", String(port)], {
    ...process.env,
    ...env,
    BROWSER: "none",
    NETLIFY_TELEMETRY_DISABLED: "1",
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}/api/ice-servers?ttl=abc`, 90_000, netlify);
  return {
    send: (path, init) => fetch(`${origin}${path}`, init),
    close: () => netlify!.stop(),
  };
});

// Runs after the contract: by then every upstream fault has been logged.
it("netlify dev never printed the API token", () => {
  // The 401 case logs an operator hint: seeing it proves the function\'s log is what is scanned.
  expect(netlify?.output()).toContain("OPERATOR: Cloudflare refused our credentials");
  expect(netlify!.output()).not.toContain(CONTRACT_TOKEN);
});
