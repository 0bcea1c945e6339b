import { expect, it } from "vitest";
import { secret } from "./helpers/secrets.ts";
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

it("deno serve counts the connection's peer, not a header a client could forge", async () => {
  const limited = await startDenoServe({
    TURN_SHARED_SECRET: secret("deno-serve-shared-Secret-7Uj9Ik1Ol3Pm"),
    TURN_URLS: "turn:turn.example.test:3478",
    // startDenoServe's readiness request is the first of the three this peer may make.
    RATE_LIMIT: "3/60s",
  });
  try {
    const statuses: number[] = [];
    for (let i = 1; i <= 3; i += 1) {
      const forged = `198.51.100.${i}`;
      const answer = await fetch(`${limited.origin}/api/ice-servers`, {
        headers: { "x-forwarded-for": forged, "x-real-ip": forged, "cf-connecting-ip": forged, "true-client-ip": forged },
      });
      await answer.body?.cancel();
      statuses.push(answer.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    // Same origin is the host the request was routed by: Deno Deploy routes by host. (Past the
    // origin check, this peer is over its limit.)
    const routed = `https://${new URL(limited.origin).host}`;
    const elsewhere = `https://localhost:${new URL(limited.origin).port}`;
    for (const [origin, status] of [
      [routed, 429],
      [elsewhere, 403],
      ["https://evil.example", 403],
    ] as const) {
      const answer = await fetch(`${limited.origin}/api/ice-servers`, { headers: { origin } });
      await answer.body?.cancel();
      expect([origin, answer.status]).toEqual([origin, status]);
    }
  } finally {
    await limited.close();
  }
}, 60_000);
