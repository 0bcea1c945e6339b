/**
 * What a warm instance must not accumulate: connections (keep-alive reuses one),
 * timers left running after an answer, and unhandled rejections.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import netlify from "../functions/ice-servers.mts";
import { createService } from "../shared/service.ts";
import { chainEnv, type ChainFakes } from "./contract/chain-cases.ts";
import { closeChainFakes, resetChainFakes, startChainFakes } from "./contract/chain-fakes.ts";
import { useProcessEnv } from "./helpers/env.ts";
import { quietLog } from "./helpers/log.ts";

// This file's own instance of the service.
const { handle } = createService();

const fakes = {} as ChainFakes;
const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);

// The core's own folder as stack frames name it, anchored at this checkout: a bare "/shared/"
// would also match a checkout that happens to live under some other "shared" folder.
const CORE_DIR = fileURLToPath(new URL("../shared/", import.meta.url));

/**
 * Timers that the core started and that have neither fired nor been cleared.
 * Only timers created from the core count: the HTTP client keeps timers of its own.
 */
function trackCoreTimers() {
  const pending = new Set<unknown>();
  let created = 0;
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  globalThis.setTimeout = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const fromCore = new Error().stack?.includes(CORE_DIR) ?? false;
    const handle = realSet(
      (...inner: unknown[]) => {
        pending.delete(handle);
        callback(...inner);
      },
      ms,
      ...args,
    );
    if (fromCore) {
      pending.add(handle);
      created += 1;
    }
    return handle;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((handle: Parameters<typeof clearTimeout>[0]) => {
    pending.delete(handle);
    realClear(handle);
  }) as typeof clearTimeout;
  return {
    pending: () => pending.size,
    created: () => created,
    restore() {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    },
  };
}

beforeAll(async () => {
  Object.assign(fakes, await startChainFakes());
  process.on("unhandledRejection", onRejection);
});
afterAll(async () => {
  process.off("unhandledRejection", onRejection);
  await closeChainFakes(fakes);
});
beforeEach(() => resetChainFakes(fakes));

describe("a warm instance", () => {
  it("keeps the upstream connection alive across invocations of the Netlify function", async () => {
    const restoreEnv = useProcessEnv(chainEnv(fakes, { TURN_PROVIDERS: "cloudflare" }));
    try {
      for (let i = 0; i < 20; i += 1) {
        const response = await netlify(new Request("https://site.netlify.app/api/ice-servers"), {} as never);
        expect(response.status).toBe(200);
      }
    } finally {
      restoreEnv();
    }
    expect(fakes.cloudflare.requests).toHaveLength(20);
    // Without keep-alive this would be 20; the pool may open a second while the first is being returned.
    expect(fakes.cloudflare.connections()).toBeLessThanOrEqual(2);
  });

  it.each([
    ["a success", "cloudflare", () => {}],
    ["a failover after a hang", "cloudflare,metered", () => fakes.cloudflare.setFault({ kind: "hang" })],
    ["a retried 503", "cloudflare", () => fakes.cloudflare.setFault({ kind: "status", status: 503 })],
    ["a body that never ends", "cloudflare", () => fakes.cloudflare.setFault({ kind: "stall-body" })],
    [
      "every provider hanging",
      "cloudflare,metered",
      () => {
        fakes.cloudflare.setFault({ kind: "hang" });
        fakes.metered.setFault({ kind: "hang" });
      },
    ],
  ])("leaves no timer running and no rejection unhandled after %s", async (_, order, arrange) => {
    arrange();
    const tracker = trackCoreTimers();
    try {
      const response = await handle(new Request("http://localhost/api/ice-servers"), chainEnv(fakes, { TURN_PROVIDERS: order }), {
        log: quietLog(),
      });
      await response.text();
      // Every upstream attempt runs under a timer of the core's: seeing none means the tracker is blind.
      expect(tracker.created()).toBeGreaterThan(0);
      expect(tracker.pending()).toBe(0);
    } finally {
      tracker.restore();
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(rejections).toEqual([]);
  });
});
