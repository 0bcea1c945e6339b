import { expect, it } from "vitest";
import { CONTRACT_TOKEN } from "./contract/cases.ts";
import { IN_GERMANY } from "./contract/routing-callers.ts";
import { describeRouting } from "./contract/routing-cases.ts";
import { describeContract } from "./contract/vitest-suite.ts";
import { useProcessEnv } from "./helpers/env.ts";
import { freePort, spawnLogged, waitForHttp, type Spawned } from "./helpers/process.ts";

// The Netlify function (functions/ice-servers.mts) as Netlify's own CLI serves it, offline.
let netlify: Spawned | undefined;

async function startNetlifyDev(env: Record<string, string>, args: string[] = []): Promise<{ origin: string; dev: Spawned }> {
  const port = await freePort();
  const dev = spawnLogged("node_modules/.bin/netlify", ["dev", "--offline", ...args, "--port", String(port)], {
    ...process.env,
    ...env,
    BROWSER: "none",
    NETLIFY_TELEMETRY_DISABLED: "1",
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}/api/ice-servers?ttl=abc`, 90_000, dev);
  return { origin, dev };
}

describeContract(
  "Netlify function under netlify dev --offline",
  async (env) => {
    const started = await startNetlifyDev(env);
    netlify = started.dev;
    const { origin } = started;
    return {
      send: (path, init) => fetch(`${origin}${path}`, init),
      close: () => netlify!.stop(),
    };
  },
  {
    // netlify dev answers a function's 403 or 404 by retrying the path with .html, /index.html and
    // so on (netlify/cli#1442); deployed Netlify does not. These cases run on the Netlify function in process.
    // It routes no function at all for a //host/… target, and answers with its own 404 page.
    // It also loads the function afresh for every request, so the memory store never counts past one
    // (RATE_LIMIT=5/60s answers RateLimit-Remaining: 4 every time): the built function runs that case.
    skip: {
      when: (testCase) =>
        testCase.status === 403 || testCase.status === 404 || testCase.hostileTarget === true || testCase.spendsMemoryAllowance === true,
      why: "netlify dev rewrites 403/404, netlify/cli#1442, routes no function for //host/…, and keeps no memory between requests",
    },
  },
);

describeContract("Netlify function in process, called as Netlify calls it", async (env) => {
  const { default: netlifyFunction } = await import("../functions/ice-servers.mts");
  const restoreEnv = useProcessEnv(env);
  return {
    send: (path, init) => netlifyFunction(new Request(`https://site.netlify.app${path}`, init), { ip: "203.0.113.1" } as never),
    close: async () => restoreEnv(),
  };
});

// Runs after the contract: by then every upstream fault has been logged.
it("netlify dev never printed the API token", () => {
  // The 401 case logs an operator hint: seeing it proves the function\'s log is what is scanned.
  expect(netlify?.output()).toContain("OPERATOR: Cloudflare refused our credentials");
  expect(netlify!.output()).not.toContain(CONTRACT_TOKEN);
});

// netlify dev places every caller where --country says (its mock geolocation): in Germany here,
// by country alone, as Netlify's context.geo does.
describeRouting(
  "the Netlify function under netlify dev --country DE",
  [IN_GERMANY],
  async (env) => {
    const { origin, dev } = await startNetlifyDev(env, ["--country", IN_GERMANY.place!.country]);
    return { ask: (_, headers) => fetch(`${origin}/api/ice-servers`, { headers }), close: () => dev.stop() };
  },
  // netlify dev takes some 20 s to start: the other hosts show the refusal.
  { badRoutes: false },
);
