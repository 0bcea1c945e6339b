/**
 * TURN_ROUTES through a host, with the caller's place supplied the way that host supplies it:
 * each rule's provider, the failover inside a routed list, and geo headers a client forged
 * changing nothing. Every host runs the same routes against the same fakes.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { chainEnv, type ChainFakes } from "./chain-cases.ts";
import { closeChainFakes, resetChainFakes, startChainFakes } from "./chain-fakes.ts";
import { forgedGeoHeaders, IN_CHINA, ROUTED_TURN_PROVIDERS, type RoutedCaller, SIDES, type Side, TURN_ROUTES } from "./routing-callers.ts";

export interface RoutingHost {
  /** Asks /api/ice-servers as `caller`, with extra request headers. */
  ask(caller: RoutedCaller, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

function expectOnlyAsked(fakes: ChainFakes, provider: Side, calls = 1): void {
  for (const side of SIDES) expect(fakes[side].requests.length, `calls to ${side}`).toBe(side === provider ? calls : 0);
}

/**
 * The routing cases for the callers a host can place (a host that places every caller alike
 * is given that one); `start` runs the host on the variables given. `badRoutes`: start it once
 * more, on a TURN_ROUTES with a bad rule, which must be refused naming that rule.
 */
export function describeRouting(
  name: string,
  callers: RoutedCaller[],
  start: (env: Record<string, string>) => Promise<RoutingHost>,
  { badRoutes = true } = {},
): void {
  describe(`TURN_ROUTES through ${name}`, () => {
    const fakes = {} as ChainFakes;
    let host: RoutingHost;

    beforeAll(async () => {
      Object.assign(fakes, await startChainFakes());
      host = await start(chainEnv(fakes, { TURN_PROVIDERS: ROUTED_TURN_PROVIDERS, TURN_ROUTES }));
    }, 180_000);
    afterAll(async () => {
      await host?.close();
      await closeChainFakes(fakes);
    });
    beforeEach(() => resetChainFakes(fakes));

    const served = async (caller: RoutedCaller, headers?: Record<string, string>) => {
      const response = await host.ask(caller, headers);
      const text = await response.text();
      expect(response.status, text).toBe(200);
      return JSON.parse(text).provider;
    };

    for (const caller of callers) {
      it(caller.name, async () => {
        expect(await served(caller)).toBe(caller.provider);
        expectOnlyAsked(fakes, caller.provider);
      });

      it(`${caller.place?.country ?? "unplaced"}: geo headers the client sent change nothing`, async () => {
        const forged = caller.place?.country === "CN" ? forgedGeoHeaders("DE", "EU") : forgedGeoHeaders("CN", "AS");
        expect(await served(caller, forged)).toBe(caller.provider);
        expectOnlyAsked(fakes, caller.provider);
      });
    }

    if (badRoutes) {
      it("a bad rule in TURN_ROUTES is a 500 invalid_config that names it, and no provider is asked", async () => {
        const refusing = await start(chainEnv(fakes, { TURN_PROVIDERS: ROUTED_TURN_PROVIDERS, TURN_ROUTES: "EU=metered; UK=cloudflare" }));
        try {
          const response = await refusing.ask(callers[0]);
          expect(response.status).toBe(500);
          const { error } = await response.json();
          expect(error.code).toBe("invalid_config");
          expect(error.message).toContain('TURN_ROUTES rule 2 ("UK=cloudflare")');
          for (const side of SIDES) expect(fakes[side].requests, `calls to ${side}`).toHaveLength(0);
        } finally {
          await refusing.close();
        }
      }, 180_000);
    }

    if (callers.includes(IN_CHINA)) {
      it("China's first provider failing: the next in China's list serves, and no provider outside it is asked", async () => {
        fakes.xirsys.setFault({ kind: "status", status: 401 });
        expect(await served(IN_CHINA)).toBe("twilio");
        expect(fakes.xirsys.requests).toHaveLength(1);
        expect(fakes.twilio.requests).toHaveLength(1);
        expect(fakes.cloudflare.requests).toHaveLength(0);
        expect(fakes.metered.requests).toHaveLength(0);
      });
    }
  });
}
