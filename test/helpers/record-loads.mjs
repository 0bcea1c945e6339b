/**
 * Loaded with `node --import`: appends the URL of every file the process loads as a module (ours
 * and the packages', not Node's own) to the file named by RECORD_LOADS, one a line, so that a test
 * can tell what a cold start and its requests loaded. After each answer it also appends Node's own
 * modules loaded so far, each as `builtin:<name>` (from `process.moduleLoadList`).
 */
import diagnostics from "node:diagnostics_channel";
import { appendFileSync } from "node:fs";
import { register } from "node:module";

// Module hooks run on a thread of their own, which can still append to a file.
const HOOKS = `import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  if (url.startsWith("file:")) appendFileSync(process.env.RECORD_LOADS, url + "\\n");
  return next(url, context);
}`;

register(`data:text/javascript,${encodeURIComponent(HOOKS)}`);

diagnostics.subscribe("http.server.response.finish", () => {
  appendFileSync(process.env.RECORD_LOADS, process.moduleLoadList.map((name) => `builtin:${name}\n`).join(""));
});
