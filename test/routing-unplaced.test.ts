/**
 * npm start and Deno Deploy's entry know no caller's place: every caller gets TURN_PROVIDERS'
 * order, whatever geo header it sends (a local server sits behind no edge that would set one).
 */
import { NOWHERE } from "./contract/routing-callers.ts";
import { describeRouting } from "./contract/routing-cases.ts";
import { startDenoServe } from "./helpers/deno-serve.ts";
import { startLocalServer } from "./helpers/process.ts";

describeRouting("npm start", [NOWHERE], async (env) => {
  const { origin, server } = await startLocalServer(env);
  return { ask: (_, headers) => fetch(`${origin}/api/ice-servers`, { headers }), close: () => server.stop() };
});

describeRouting("the Deno Deploy entry under deno task serve", [NOWHERE], async (env) => {
  const deno = await startDenoServe(env);
  return { ask: (_, headers) => fetch(`${deno.origin}/api/ice-servers`, { headers }), close: () => deno.close() };
});
