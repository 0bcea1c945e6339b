/**
 * Where the caller is, as far as routing needs it: a country and its continent. Only a host's
 * own facts go in (Netlify's context.geo, Vercel's x-vercel-ip-* headers, a Worker's request.cf:
 * shared/hosts/), never a header the platform does not set.
 */
import { type Continent, continentOf, isContinent } from "./continents.ts";

/** What a host reports, as it reports it: either may be missing or not a code at all. */
export interface CallerLocation {
  /** ISO 3166-1 alpha-2, such as `DE`. */
  country?: string | null;
  /** One of AF, AN, AS, EU, NA, OC, SA. */
  continent?: string | null;
}

export interface Place {
  country?: string;
  continent?: Continent;
}

/**
 * The country as an upper-case code, and its continent from our own table, so that one country
 * is routed alike on every host. A host's own continent counts only for a country the table
 * does not hold (Cloudflare's `T1` for Tor, `XX` for unknown).
 */
export function placeOf(location: CallerLocation | undefined): Place | undefined {
  const country = location?.country?.trim().toUpperCase();
  const reported = location?.continent?.trim().toUpperCase();
  const place: Place = {};
  // XX is Cloudflare's "no country data": no place at all.
  if (country && country !== "XX" && /^[A-Z][A-Z0-9]$/.test(country)) place.country = country;
  const continent = (place.country && continentOf(place.country)) || reported;
  if (continent && isContinent(continent)) place.continent = continent;
  return place.country || place.continent ? place : undefined;
}
