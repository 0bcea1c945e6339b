/**
 * TURN_ROUTES: a provider order per country or continent. `CN,HK=xirsys,shared-secret;
 * EU=metered,cloudflare; *=cloudflare` — rules separated by `;`, each a comma list of places
 * (a country code, a continent code, or `*`) and, after `=`, the providers to try in order.
 * The seven continent codes win over the four countries that share them (AF, AS, NA, SA); such
 * a country is written `country:NA`.
 */
import * as v from "valibot";
import type { ConfiguredProvider } from "../providers/index.ts";
import { readVar, type Env } from "../env.ts";
import { ServiceError } from "../errors.ts";
import { PROVIDER_IDS, PROVIDERS, type ProviderId } from "../providers/index.ts";
import { type Continent, CONTINENTS, continentOf, isContinent } from "./continents.ts";

export interface Route {
  /** The rule's places as written, such as `CN,HK`: what the request's log line names. */
  readonly rule: string;
  readonly providers: readonly ConfiguredProvider[];
}

/**
 * Each place a rule names, as `CN` (a country), `continent:EU` or `*`, to that rule's route.
 * The keys keep a country and the continent with the same code apart.
 */
export type Routes = ReadonlyMap<string, Route>;

export const NO_ROUTES: Routes = new Map();

/** The key a country, a continent or `*` has in Routes. */
export const placeKey = (place: { country: string } | { continent: Continent } | "*"): string =>
  place === "*" ? "*" : "country" in place ? place.country : `continent:${place.continent}`;

const list = (text: string) => text.split(",").map((item) => item.trim());

/** A place as written, upper-cased, with its key; undefined when it is no place at all. */
function entryFor(place: string): { key: string; written: string } | undefined {
  if (place === "*") return { key: "*", written: place };
  if (isContinent(place)) return { key: placeKey({ continent: place }), written: place };
  const country = place.replace(/^COUNTRY:/, "");
  return continentOf(country) ? { key: placeKey({ country }), written: place } : undefined;
}

const PlaceSchema = v.pipe(
  v.string(),
  v.toUpperCase(),
  v.check(
    (place) => entryFor(place) !== undefined,
    (issue) =>
      `${issue.input ? JSON.stringify(issue.input) : "an empty place"} is neither an ISO 3166-1 alpha-2 country code, a continent (${CONTINENTS.join(" ")}) nor *`,
  ),
  v.transform((place) => entryFor(place)!),
);

const RuleSchema = v.pipe(
  v.string(),
  v.regex(/^[^=]*=[^=]*$/, "each rule is places=providers, such as EU=metered,cloudflare"),
  v.transform((rule) => {
    const [places, providers] = rule.split("=");
    return { places: list(places), providers: list(providers) };
  }),
  v.object({
    places: v.array(PlaceSchema),
    providers: v.pipe(
      v.array(v.picklist(PROVIDER_IDS, `it names an unknown provider: use ${PROVIDER_IDS.join(", ")}`)),
      v.check((ids) => new Set(ids).size === ids.length, "it names a provider twice"),
    ),
  }),
);

// The rule is quoted so that the operator finds it; it holds codes and provider names, no secret.
const refuse = (index: number, rule: string, why: string) =>
  new ServiceError("invalid_config", `TURN_ROUTES rule ${index + 1} (${JSON.stringify(rule.slice(0, 80))}): ${why}`);

function configured(id: ProviderId, env: Env, fail: (why: string) => ServiceError): ConfiguredProvider {
  const provider = PROVIDERS.find((candidate) => candidate.id === id)!;
  const config = provider.configure(env);
  if (config === undefined) throw fail(`${id} is not configured: set ${provider.enableHint}`);
  return { provider, config };
}

/** Validates TURN_ROUTES. Throws a ServiceError naming the rule at fault. */
export function configureRoutes(env: Env): Routes {
  const value = readVar(env, "TURN_ROUTES");
  if (value === undefined) return NO_ROUTES;
  const routes = new Map<string, Route>();
  const rules = value.split(";").map((rule) => rule.trim());
  // A trailing `;` is a habit, not a mistake.
  if (rules.length > 1 && rules.at(-1) === "") rules.pop();
  rules.forEach((text, index) => {
    const fail = (why: string) => refuse(index, text, why);
    const parsed = v.safeParse(RuleSchema, text);
    if (!parsed.success) throw fail(parsed.issues[0].message);
    const { places, providers } = parsed.output;
    const route: Route = {
      rule: places.map((place) => place.written).join(","),
      providers: providers.map((id) => configured(id, env, fail)),
    };
    for (const { key, written } of places) {
      if (routes.has(key)) throw fail(`${written} is named by an earlier rule too`);
      routes.set(key, route);
    }
  });
  return routes;
}
