/**
 * The hosts' floor: the bare function (bench/systems/bare.ts, no imports of ours) as a project of its
 * own, built by `netlify build --offline` and `vercel build` exactly as ours are
 * (scripts/artefacts/build.ts), so that each shipped artefact is compared with what the same host
 * makes of a function that does nothing. The project lives in a temporary folder; its node_modules
 * is a link to ours, so the builders find the same CLIs' helpers and TypeScript, and the bare
 * function imports no package for them to trace.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildNetlifyProject, buildVercelProject, type NetlifyArtefact, type VercelArtefact } from "../scripts/artefacts/build.ts";
import { ROOT } from "./build.ts";

const OUR_PACKAGE = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));

/** The one route the bare project serves, in both hosts' layouts. */
const ROUTE = "/api/ice-servers";

// Each host's entry only adapts the bare function to the host's signature, as ours do.
const FILES: Record<string, string> = {
  // Our engines, so that Vercel picks the same Node for both (Netlify's is pinned in netlify.toml).
  "package.json": JSON.stringify({ name: "bare-function", private: true, type: "module", engines: OUR_PACKAGE.engines }),
  "netlify.toml":
    '[build]\n  publish = "public"\n[build.environment]\n  AWS_LAMBDA_JS_RUNTIME = "nodejs22.x"\n[functions]\n  directory = "functions"\n',
  "public/index.html": "<!doctype html><title>bare</title>\n",
  "vercel.json": JSON.stringify({ functions: { "api/ice-servers.ts": { maxDuration: 15 } } }),
  "functions/ice-servers.mts": 'export { default } from "../bare.ts";\n',
  "api/ice-servers.ts": 'import bare from "../bare.ts";\n\nexport default { fetch: bare };\n',
};

export interface BareArtefacts {
  netlify: NetlifyArtefact;
  vercel: VercelArtefact;
  /** The `.func` folder of the one route. */
  vercelFunc: string;
  /** Deletes the project and the builders' copies. */
  remove(): void;
}

export async function buildBareArtefacts(): Promise<BareArtefacts> {
  const project = mkdtempSync(join(tmpdir(), "bare-host-"));
  try {
    for (const [file, text] of Object.entries(FILES)) {
      mkdirSync(join(project, file, ".."), { recursive: true });
      writeFileSync(join(project, file), text);
    }
    copyFileSync(join(ROOT, "bench/systems/bare.ts"), join(project, "bare.ts"));
    // Vercel compiles the .ts entries with the project's tsconfig, as it does ours.
    copyFileSync(join(ROOT, "tsconfig.json"), join(project, "tsconfig.json"));
    symlinkSync(join(ROOT, "node_modules"), join(project, "node_modules"), "dir");
    const netlify = await buildNetlifyProject(project);
    const vercel = await buildVercelProject(project);
    return {
      netlify,
      vercel,
      vercelFunc: vercel.funcs[ROUTE],
      remove: () => {
        for (const dir of [project, netlify.tempDir, vercel.tempDir]) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(project, { recursive: true, force: true });
    throw error;
  }
}
