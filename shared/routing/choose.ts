/** Which providers a request tries, in order: its place's route, else TURN_PROVIDERS' order. */
import type { ConfiguredProvider } from "../providers/index.ts";
import type { RequestContext } from "../context.ts";
import type { Place } from "./location.ts";
import { placeKey, type Route, type Routes } from "./routes.ts";

/** A country's rule beats its continent's, which beats `*`; a caller nowhere known gets none. */
export function chooseRoute(routes: Routes, place: Place | undefined): Route | undefined {
  if (place === undefined || routes.size === 0) return undefined;
  const { country, continent } = place;
  return (
    (country !== undefined ? routes.get(placeKey({ country })) : undefined) ??
    (continent !== undefined ? routes.get(placeKey({ continent })) : undefined) ??
    routes.get("*")
  );
}

/** The ordered list the chain walks for this request; the rule that chose it goes in the trace. */
export function routedProviders(context: RequestContext): readonly ConfiguredProvider[] {
  const { config, location, trace } = context;
  const route = chooseRoute(config.routes, location);
  if (route === undefined) return config.providers;
  if (trace) trace.rule = route.rule;
  return route.providers;
}
