/**
 * Loaded with `node --import`: appends the URL of every file the process loads as a module (ours
 * and the packages', not Node's own) to the file named by RECORD_LOADS, one a line, so that a test
 * can tell what a cold start and its requests loaded.
 */
import { register } from "node:module";

// Module hooks run on a thread of their own, which can still append to a file.
const HOOKS = `import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  if (url.startsWith("file:")) appendFileSync(process.env.RECORD_LOADS, url + "\\n");
  return next(url, context);
}`;

register(`data:text/javascript,${encodeURIComponent(HOOKS)}`);
