/**
 * The Netlify entries hand the spend guard's usage read to the host's `context.waitUntil`, as the
 * Worker hands it to `ctx.waitUntil` (test/adapters.test.ts): a read that runs behind an answer is
 * then kept alive by the host instead of being cut off when the answer is sent. Each entry is
 * called as Netlify calls it, with the chain's fakes behind it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useProcessEnv } from "./helpers/env.ts";
import { closeSpendFakes, spendEnv, startSpendFakes, type SpendFakes } from "./helpers/spend-fakes.ts";

let fakes: SpendFakes;
let env: Record<string, string>;
let restore = () => {};
beforeAll(async () => {
  fakes = await startSpendFakes();
  env = spendEnv(fakes);
  restore = useProcessEnv(env);
  // The Edge Function reads its variables from Netlify's global, which only Netlify's Deno runtime defines.
  Object.assign(globalThis, { Netlify: { env: { toObject: () => env } } });
});
afterAll(async () => {
  restore();
  Reflect.deleteProperty(globalThis, "Netlify");
  await closeSpendFakes(fakes ?? {});
});

type NetlifyEntry = (request: Request, context: never) => Promise<Response>;
const ENTRIES: [string, () => Promise<NetlifyEntry>][] = [
  ["the Netlify function (functions/ice-servers.mts)", async () => (await import("../functions/ice-servers.mts")).default as NetlifyEntry],
  ["the Netlify Edge Function", async () => (await import("../netlify/edge-functions/ice-servers.ts")).default as NetlifyEntry],
];

describe.each(ENTRIES)("%s", (_name, load) => {
  it("hands the usage read that runs behind its first answer to context.waitUntil", async () => {
    fakes.graphql.reset();
    const entry = await load();
    const kept: Promise<unknown>[] = [];
    const context = { ip: "203.0.113.40", geo: {}, waitUntil: (work: Promise<unknown>) => kept.push(work) };
    const response = await entry(new Request("https://site.netlify.app/api/ice-servers"), context as never);
    expect(response.status).toBe(200);
    expect(kept.length).toBeGreaterThanOrEqual(1);
    await Promise.all(kept);
    expect(fakes.graphql.queries.key).toBeGreaterThanOrEqual(1);
  });

  it("still answers when the caller gives no waitUntil", async () => {
    const entry = await load();
    const response = await entry(new Request("https://site.netlify.app/api/ice-servers"), { ip: "203.0.113.41", geo: {} } as never);
    expect(response.status).toBe(200);
  });
});
