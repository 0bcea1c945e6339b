/**
 * Which of the seven continents each country is in, for TURN_ROUTES' continent rules: Netlify
 * names a caller's country but not its continent, and every host must route a country alike.
 * ISO 3166-1 alpha-2, all 249 officially assigned codes, and XK (Kosovo), which the hosts' geo
 * databases report although ISO has not assigned it. A country on two continents is where the
 * `countries-list` package puts it (Russia and Turkey in Asia, Egypt in Africa…); a rule naming
 * the country routes it otherwise. test/routing-continents.test.ts holds the table to that list.
 */

export const CONTINENTS = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"] as const;
export type Continent = (typeof CONTINENTS)[number];

const COUNTRIES_ON: Record<Continent, string> = {
  AF: `AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE
       KM LR LS LY MA MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST
       SZ TD TG TN TZ UG YT ZA ZM ZW`,
  AN: "AQ BV GS HM TF",
  AS: `AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO JP KG KH KP
       KR KW KZ LA LB LK MM MN MO MV MY NP OM PH PK PS QA RU SA SG SY TH TJ TM
       TR TW UZ VN YE`,
  EU: `AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU
       IE IM IS IT JE LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS SE SI SJ SK
       SM UA VA XK`,
  NA: `AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY
       LC MF MQ MS MX NI PA PM PR SV SX TC TT US VC VG VI`,
  OC: `AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TL TO TV UM
       VU WF WS`,
  SA: "AR BO BR CL CO EC FK GF GY PE PY SR UY VE",
};

const CONTINENT_OF: ReadonlyMap<string, Continent> = new Map(
  CONTINENTS.flatMap((continent) => COUNTRIES_ON[continent].split(/\s+/).map((country) => [country, continent] as const)),
);

/** The continent of an upper-case country code, or undefined for a code the table does not hold. */
export const continentOf = (country: string): Continent | undefined => CONTINENT_OF.get(country);

/** Every country code the table holds. */
export const COUNTRIES: readonly string[] = [...CONTINENT_OF.keys()];

export const isContinent = (code: string): code is Continent => (CONTINENTS as readonly string[]).includes(code);
