/**
 * The callers the TURN_ROUTES cases place, the routes they run on and the geo headers a client
 * could forge: shared by the vitest suites (routing-cases.ts) and Deno's (test/deno/edge.test.ts).
 */
export type Side = "cloudflare" | "metered" | "twilio" | "xirsys";
export const SIDES: Side[] = ["cloudflare", "metered", "twilio", "xirsys"];

export const ROUTED_TURN_PROVIDERS = "cloudflare,metered";
export const TURN_ROUTES = "CN,HK,MO=xirsys,twilio; EU=metered,cloudflare; *=twilio";

export interface RoutedCaller {
  name: string;
  /** Where the host places the caller; absent: nowhere the host knows. */
  place?: { country: string; continent: string };
  /** The provider that serves, and the only one asked. */
  provider: Side;
}

export const IN_CHINA: RoutedCaller = {
  name: "a caller in China gets its country's rule (xirsys)",
  place: { country: "CN", continent: "AS" },
  provider: "xirsys",
};
export const IN_GERMANY: RoutedCaller = {
  name: "a caller in Germany gets Europe's rule (metered)",
  place: { country: "DE", continent: "EU" },
  provider: "metered",
};
export const IN_BRAZIL: RoutedCaller = {
  name: "a caller in Brazil, which no rule names, gets the * rule (twilio)",
  place: { country: "BR", continent: "SA" },
  provider: "twilio",
};
export const NOWHERE: RoutedCaller = {
  name: "a caller the host places nowhere gets TURN_PROVIDERS' order (cloudflare)",
  provider: "cloudflare",
};

/** Every geo header some platform sets, claiming a place: only a platform that sets one may be believed. */
export function forgedGeoHeaders(country: string, continent: string): Record<string, string> {
  return {
    "x-vercel-ip-country": country,
    "x-vercel-ip-continent": continent,
    "cf-ipcountry": country,
    "x-nf-geo": btoa(JSON.stringify({ country: { code: country } })),
    "x-country": country,
  };
}

/**
 * For the runtime stand-ins, which place a caller by the loopback address it connects from:
 * each caller's address, and the table of addresses to places they are given. A caller with no
 * place connects from an address the table does not hold.
 */
export function loopbackPlaces(callers: RoutedCaller[]): { addressOf(caller: RoutedCaller): string; table: string } {
  const addressOf = (caller: RoutedCaller) => `127.0.0.${2 + callers.indexOf(caller)}`;
  const table = Object.fromEntries(callers.filter((caller) => caller.place).map((caller) => [addressOf(caller), caller.place]));
  return { addressOf, table: JSON.stringify(table) };
}
