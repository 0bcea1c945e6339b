/**
 * Our country-to-continent table against the `countries-list` package (a test-only dependency):
 * the same codes, ISO 3166-1's 249 and Kosovo's XK, each on the same continent. Its two codes
 * that are reserved for the Universal Postal Union, not assigned to a country (AC, TA), are left out.
 */
import { countries } from "countries-list";
import { describe, expect, it } from "vitest";
import { CONTINENTS, COUNTRIES, continentOf } from "../shared/routing/continents.ts";

const NOT_COUNTRIES = new Set(["AC", "TA"]);
const reference = Object.entries(countries).filter(([code]) => !NOT_COUNTRIES.has(code));

describe("the country-to-continent table", () => {
  it("holds every country the reference lists, and no other: 249 ISO codes and XK", () => {
    expect([...COUNTRIES].sort()).toEqual(reference.map(([code]) => code).sort());
    expect(COUNTRIES).toHaveLength(250);
    expect(new Set(COUNTRIES).size).toBe(COUNTRIES.length);
  });

  it("puts each country on the reference's continent", () => {
    const differing = reference.filter(([code, country]) => continentOf(code) !== country.continent);
    expect(differing.map(([code, country]) => `${code}: ours ${continentOf(code)}, the reference's ${country.continent}`)).toEqual([]);
  });

  it("uses the seven continent codes, each for some country", () => {
    expect([...new Set(COUNTRIES.map((code) => continentOf(code)))].sort()).toEqual([...CONTINENTS].sort());
  });
});
