/**
 * Runs an unzipped Netlify function (`netlify build` output) as Netlify's runtime calls a v2
 * function: its default export with a web Request and a Context whose `ip` is the client's
 * address. Usage: node netlify-runtime.mjs <unzipped-dir> <main-file relative to it>
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { serve } from "./serve.mjs";

const [dir, mainFile] = process.argv.slice(2);
const { default: netlifyFunction } = await import(pathToFileURL(join(dir, mainFile)).href);
if (typeof netlifyFunction !== "function") throw new Error(`${mainFile} has no default export function`);

serve((request, clientAddress) => netlifyFunction(request, { ip: clientAddress }));
