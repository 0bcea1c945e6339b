import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { serveStatic, STATIC_FILES } from "../server/static.ts";

const ROOT = resolve(import.meta.dirname, "..");
const get = (path: string, method = "GET") => serveStatic(new Request(`http://127.0.0.1:8888${path}`, { method }));

describe("server/static.ts: the self-test page under npm start", () => {
  it("serves the page at / and /index.html, and its scripts, with their content types", async () => {
    for (const [path, type, file] of [
      ["/", "text/html; charset=utf-8", "selftest/index.html"],
      ["/index.html", "text/html; charset=utf-8", "selftest/index.html"],
      ["/selftest.js", "text/javascript; charset=utf-8", "selftest/selftest.js"],
      ["/negotiate.js", "text/javascript; charset=utf-8", "selftest/negotiate.js"],
      ["/turn-client.js", "text/javascript; charset=utf-8", "client/turn-client.js"],
      ["/ice-source.js", "text/javascript; charset=utf-8", "client/ice-source.js"],
    ]) {
      const response = (await get(path))!;
      expect(response.status, path).toBe(200);
      expect(response.headers.get("content-type"), path).toBe(type);
      expect(response.headers.get("x-content-type-options"), path).toBe("nosniff");
      const body = await response.text();
      expect(body, path).toBe(readFileSync(join(ROOT, file), "utf8"));
      expect(Number(response.headers.get("content-length")), path).toBe(Buffer.byteLength(body));
    }
  });

  it("answers HEAD with the headers and no body", async () => {
    const response = (await get("/", "HEAD"))!;
    expect(response.status).toBe(200);
    expect(Number(response.headers.get("content-length"))).toBeGreaterThan(0);
    expect(await response.text()).toBe("");
  });

  it("refuses other methods on its paths with 405 and Allow", async () => {
    const response = (await get("/", "POST"))!;
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD");
    expect((await response.json()).error.code).toBe("method_not_allowed");
  });

  it("leaves every other path to the service, traversal attempts included", async () => {
    for (const path of [
      "/api/ice-servers",
      "/package.json",
      "/client/turn-client.js",
      "/client/ice-source.js",
      "/turn-client.d.ts",
      "/selftest/index.html",
      "/../package.json",
      "/..%2fpackage.json",
      "/%2e%2e/server/static.ts",
      "/selftest.js/",
      "/constructor",
      "/__proto__",
    ]) {
      expect(await get(path), path).toBeUndefined();
    }
  });
});

describe("npm run build:selftest: the page as a static site", () => {
  const out = mkdtempSync(join(tmpdir(), "selftest-site-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("puts the same files side by side that npm start serves, and every import resolves among them", () => {
    execFileSync(process.execPath, [join(ROOT, "scripts/selftest-site.mjs"), out], { stdio: "ignore" });
    const names = readdirSync(out).sort();
    const served = Object.keys(STATIC_FILES)
      .filter((path) => path !== "/")
      .map((path) => path.slice(1))
      .sort();
    expect(names).toEqual(served);
    for (const name of names) {
      expect(readFileSync(join(out, name), "utf8"), name).toBe(readFileSync(join(ROOT, STATIC_FILES[`/${name}`].file), "utf8"));
    }
    // Relative references only (./x.js), each to a file in the folder.
    const references = names.flatMap((name) => {
      const text = readFileSync(join(out, name), "utf8");
      return [...text.matchAll(/(?:src="|from ")(\.\/[^"]+)"/g)].map((match) => match[1].slice(2));
    });
    const clientModules = readdirSync(join(ROOT, "client")).filter((name) => name.endsWith(".js"));
    expect(clientModules.length).toBeGreaterThan(1);
    expect(new Set(references)).toEqual(new Set(["negotiate.js", "selftest.js", ...clientModules]));
    for (const reference of references) expect(names).toContain(reference);
  });
});
