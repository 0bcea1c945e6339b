/**
 * Runs one `.func` folder of `vercel build` output as Vercel's Node launcher does: it loads
 * the handler named in `.vc-config.json`, unwraps `default`, and calls the web export for the
 * request's method (`fetch` serves every method; a method without an export is a 405). Like
 * Vercel's edge, it sets x-real-ip and x-forwarded-for to the connecting address, and
 * x-vercel-ip-country and x-vercel-ip-continent to where the client is, overwriting whatever
 * the client sent: here from a table of client addresses (127.0.0.2…) to
 * `{ "country": "CN", "continent": "AS" }`, given as JSON; a client not in it is placed nowhere.
 * Usage: node vercel-runtime.mjs <dir.func> [geo-table-json]
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { serve } from "./serve.mjs";

const [dir, geoTable = "{}"] = process.argv.slice(2);
/** @type {Record<string, { country: string, continent: string }>} */
const places = JSON.parse(geoTable);
const config = JSON.parse(readFileSync(join(dir, ".vc-config.json"), "utf8"));
if (config.launcherType !== "Nodejs") throw new Error(`unexpected launcherType ${config.launcherType}`);

let exports = await import(pathToFileURL(join(dir, config.handler)).href);
for (let depth = 0; depth < 5 && exports.default; depth++) exports = exports.default;
const handlerFor = (method) => (typeof exports.fetch === "function" ? exports.fetch : exports[method]);
if (typeof handlerFor("GET") !== "function") throw new Error(`${config.handler} exports no web handler`);

serve((request, clientAddress) => {
  const handler = handlerFor(request.method);
  if (typeof handler !== "function") return Promise.resolve(new Response(null, { status: 405 }));
  request.headers.set("x-real-ip", clientAddress);
  request.headers.set("x-forwarded-for", clientAddress);
  const place = places[clientAddress];
  for (const [header, value] of [
    ["x-vercel-ip-country", place?.country],
    ["x-vercel-ip-continent", place?.continent],
  ]) {
    if (value) request.headers.set(header, value);
    else request.headers.delete(header);
  }
  return handler(request);
});
