/**
 * Runs an unzipped Netlify function (`netlify build` output) as Netlify's runtime calls a v2
 * function: its default export with a web Request and a Context whose `ip` is the client's
 * address and whose `geo` places the client, as Netlify's edge does from the connection: here
 * by a table of client addresses (127.0.0.2…) to `{ "country": "CN" }`, given as JSON.
 * Usage: node netlify-runtime.mjs <unzipped-dir> <main-file relative to it> [geo-table-json]
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { serve } from "./serve.mjs";

const [dir, mainFile, geoTable = "{}"] = process.argv.slice(2);
/** @type {Record<string, { country: string }>} */
const places = JSON.parse(geoTable);
const { default: netlifyFunction } = await import(pathToFileURL(join(dir, mainFile)).href);
if (typeof netlifyFunction !== "function") throw new Error(`${mainFile} has no default export function`);

// Netlify's geo names the country (code and name), not the continent.
const geoOf = (address) => (places[address] ? { country: { code: places[address].country, name: "" } } : {});

serve((request, clientAddress) => netlifyFunction(request, { ip: clientAddress, geo: geoOf(clientAddress) }));
