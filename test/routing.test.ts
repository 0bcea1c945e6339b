/**
 * TURN_ROUTES in the core: the rules as configuration reads them (a bad one refused, naming it),
 * which rule a place gets, and the routing cases through handle() and the Netlify function in
 * process (context.geo, as Netlify's runtime passes it), with the request's JSON line.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../shared/config.ts";
import { createService } from "../shared/service.ts";
import { chooseRoute } from "../shared/routing/choose.ts";
import { placeOf } from "../shared/routing/location.ts";
import { chainEnv, type ChainFakes } from "./contract/chain-cases.ts";
import { closeChainFakes, startChainFakes } from "./contract/chain-fakes.ts";
import { IN_BRAZIL, IN_CHINA, IN_GERMANY, NOWHERE, ROUTED_TURN_PROVIDERS, TURN_ROUTES } from "./contract/routing-callers.ts";
import { describeRouting } from "./contract/routing-cases.ts";
import { useProcessEnv } from "./helpers/env.ts";
import { captureLog } from "./helpers/log.ts";
import { secret } from "./helpers/secrets.ts";
import { thrownBy } from "./helpers/service-error.ts";

// This file's own instance of the service.
const { handle } = createService();

const CONFIGURED = {
  TURN_SHARED_SECRET: secret("routing-shared-secret-Wd4Rf6Tg8Yh0"),
  TURN_URLS: "turn:turn.example.com:3478",
  METERED_APP: "demo",
  METERED_SECRET_KEY: secret("routing-metered-secret-Pq2Ws4Ed6"),
  CLOUDFLARE_TURN_KEY_ID: "routingkey0123456789abcdef",
  CLOUDFLARE_TURN_KEY_API_TOKEN: secret("routing-cf-token-Zx8Cv6Bn4Mq2"),
};
const routesOf = (routes: string) => parseConfig({ ...CONFIGURED, TURN_ROUTES: routes }).routes;
const chosen = (routes: string, location?: { country?: string; continent?: string }) => {
  const route = chooseRoute(routesOf(routes), placeOf(location));
  return route && `${route.rule}=${route.providers.map((entry) => entry.provider.id).join(",")}`;
};

describe("TURN_ROUTES as configuration reads it", () => {
  const ROUTES = "CN,HK=shared-secret,metered; EU=metered,cloudflare; country:NA=cloudflare; NA=shared-secret; *=cloudflare;";

  it.each([
    ["CN", "AS", "CN,HK=shared-secret,metered"],
    ["hk", undefined, "CN,HK=shared-secret,metered"],
    ["DE", "EU", "EU=metered,cloudflare"],
    // Netlify names no continent: the table supplies it.
    ["FR", undefined, "EU=metered,cloudflare"],
    // Namibia's code is North America's: written country:NA, it is the country.
    ["NA", "AF", "COUNTRY:NA=cloudflare"],
    ["US", "NA", "NA=shared-secret"],
    ["JP", "AS", "*=cloudflare"],
    // Cloudflare's code for Tor is no country: its continent, or else `*`.
    ["T1", "T1", "*=cloudflare"],
  ])("a caller in %s (continent %s) gets %s", (country, continent, expected) => {
    expect(chosen(ROUTES, { country, continent })).toBe(expected);
  });

  it("a country's continent is our table's, whatever continent the host names (one country, one route on every host)", () => {
    expect(chosen(ROUTES, { country: "DE", continent: "NA" })).toBe("EU=metered,cloudflare");
  });

  it("a caller the host places nowhere gets no rule, not even *: TURN_PROVIDERS' order applies", () => {
    expect(chosen(ROUTES, undefined)).toBeUndefined();
    expect(chosen(ROUTES, { country: "", continent: "" })).toBeUndefined();
    // Cloudflare's code for a country it does not know.
    expect(chosen(ROUTES, { country: "XX" })).toBeUndefined();
  });

  it("without a * rule, a place no rule names gets none", () => {
    expect(chosen("EU=metered", { country: "BR", continent: "SA" })).toBeUndefined();
  });

  it.each([
    ["CN=metered; UK=cloudflare", 2, '"UK" is neither an ISO 3166-1 alpha-2 country code'],
    ["CN=metered; EU metered", 2, "each rule is places=providers"],
    ["CN=metered,clodflare", 1, "unknown provider: use cloudflare, metered, shared-secret, twilio, xirsys"],
    ["CN=metered,metered", 1, "names a provider twice"],
    ["CN=metered; EU=twilio", 2, "twilio is not configured: set TWILIO_ACCOUNT_SID"],
    ["CN,HK=metered; HK=cloudflare", 2, "HK is named by an earlier rule too"],
    ["*=metered; *=cloudflare", 2, "* is named by an earlier rule too"],
    ["CN=metered;; EU=metered", 2, "each rule is places=providers"],
    ["CN,=metered", 1, "an empty place"],
    ["EU=", 1, "unknown provider"],
  ])("refuses %j, naming rule %i: %s", (routes, index, why) => {
    const error = thrownBy(() => parseConfig({ ...CONFIGURED, TURN_ROUTES: routes }));
    expect(error.code).toBe("invalid_config");
    const rule = routes.split(";")[index - 1].trim();
    expect(error.message.startsWith(`TURN_ROUTES rule ${index} (${JSON.stringify(rule)}): `), error.message).toBe(true);
    expect(error.message).toContain(why);
    for (const value of Object.values(CONFIGURED)) expect(error.message).not.toContain(value);
  });

  it("a bad TURN_ROUTES is a 500 config_error naming the rule, with no provider asked", async () => {
    const log = captureLog();
    const response = await handle(
      new Request("https://site.example/api/ice-servers"),
      { ...CONFIGURED, TURN_ROUTES: "EU=metered; XX=cloudflare" },
      { log },
    );
    expect(response.status).toBe(500);
    const body = await response.json();
    expect(body.error.code).toBe("invalid_config");
    expect(body.error.message).toContain('TURN_ROUTES rule 2 ("XX=cloudflare")');
    expect(log.lines.join("\n")).toContain('TURN_ROUTES rule 2 ("XX=cloudflare")');
  });
});

describeRouting("the core's handle(), given the host's location", [IN_CHINA, IN_GERMANY, IN_BRAZIL, NOWHERE], async (env) => ({
  ask: (caller) => handle(new Request("https://site.example/api/ice-servers"), env, { location: caller.place, log: captureLog() }),
  close: async () => {},
}));

describeRouting("the Netlify function in process, given context.geo", [IN_CHINA, IN_GERMANY, IN_BRAZIL, NOWHERE], async (env) => {
  const { default: netlifyFunction } = await import("../functions/ice-servers.mts");
  const restoreEnv = useProcessEnv(env);
  return {
    ask: (caller, headers) => {
      // Netlify's geo names the country alone.
      const geo = caller.place ? { country: { code: caller.place.country, name: "Somewhere" }, city: "Somewhere" } : {};
      return netlifyFunction(new Request("https://site.netlify.app/api/ice-servers", { headers }), { ip: "203.0.113.9", geo } as never);
    },
    close: async () => restoreEnv(),
  };
});

describe("the request's JSON line names the caller's country and the rule, no finer place", () => {
  const fakes = {} as ChainFakes;
  beforeAll(async () => {
    Object.assign(fakes, await startChainFakes());
  });
  afterAll(() => closeChainFakes(fakes));

  const line = async (location?: { country: string; continent?: string }) => {
    const log = captureLog();
    const env = chainEnv(fakes, { TURN_PROVIDERS: ROUTED_TURN_PROVIDERS, TURN_ROUTES, LOG_FORMAT: "json" });
    const response = await handle(new Request("https://site.example/api/ice-servers"), env, { log, location });
    expect(response.status).toBe(200);
    return JSON.parse(log.lines.find((entry) => entry.includes('"type":"request"'))!);
  };

  it("a routed caller: country and rule", async () => {
    const entry = await line({ country: "hk", continent: "AS" });
    expect(entry).toMatchObject({ country: "HK", rule: "CN,HK,MO", provider: "xirsys" });
    expect(Object.keys(entry)).not.toContain("continent");
  });

  it("a caller no rule names but * : the * rule", async () => {
    expect(await line({ country: "BR" })).toMatchObject({ country: "BR", rule: "*", provider: "twilio" });
  });

  it("a caller placed nowhere: neither field", async () => {
    const entry = await line();
    expect(entry.provider).toBe("cloudflare");
    expect("country" in entry || "rule" in entry).toBe(false);
  });
});
