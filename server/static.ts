import { readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ServiceError } from "../shared/errors.ts";
import { errorResponse } from "../shared/http/respond.ts";

/** The repository root, wherever `npm start` was started from. */
const ROOT = resolve(import.meta.dirname, "..");

const HTML = "text/html; charset=utf-8";
const JS = "text/javascript; charset=utf-8";

/**
 * The self-test page and the files it loads, by URL path: the page, its scripts, and every module
 * of the browser client (turn-client.js imports its siblings by relative path). Only these exact
 * paths are served: a request path is looked up, never joined to a folder, so no path reaches any
 * other file. The same names are what `npm run build:selftest` puts in its folder for a static deploy.
 */
export const STATIC_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  "/": { file: "selftest/index.html", type: HTML },
  "/index.html": { file: "selftest/index.html", type: HTML },
  "/selftest.js": { file: "selftest/selftest.js", type: JS },
  "/negotiate.js": { file: "selftest/negotiate.js", type: JS },
  ...Object.fromEntries(
    readdirSync(join(ROOT, "client"))
      .filter((name) => name.endsWith(".js"))
      .map((name) => [`/${name}`, { file: `client/${name}`, type: JS }]),
  ),
};

/**
 * Answers GET or HEAD of a static path; undefined for any other path, which is left to `handle`.
 * Files are read on each request, so an edit shows on reload.
 */
export async function serveStatic(request: Request): Promise<Response | undefined> {
  const { pathname } = new URL(request.url);
  if (!Object.hasOwn(STATIC_FILES, pathname)) return undefined;
  if (request.method !== "GET" && request.method !== "HEAD") {
    return errorResponse(new ServiceError("method_not_allowed", "use GET or HEAD", { allow: "GET, HEAD" }));
  }
  const { file, type } = STATIC_FILES[pathname];
  let body: Uint8Array<ArrayBuffer>;
  try {
    body = new Uint8Array(await readFile(join(ROOT, file)));
  } catch {
    return errorResponse(new Error("unreadable static file"));
  }
  const headers = {
    "content-type": type,
    "content-length": String(body.byteLength),
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
  };
  return new Response(request.method === "HEAD" ? null : body, { status: 200, headers });
}
