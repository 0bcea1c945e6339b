/**
 * The one way we bundle a function for what a host ships (each host's build script calls it): our
 * code and the packages it imports statically, such as valibot, become one minified ESM file for
 * Node, tree-shaken, so that a cold start parses one file instead of resolving and loading dozens.
 * The `external` packages stay `import()`s of the package, loaded from node_modules only when a
 * request needs them, and the host's own tracer ships them beside the file.
 */
import { build } from "esbuild";

/** The packages the core imports only when a request needs them: a JWT to verify, REDIS_URL set. */
export const LOADED_ON_DEMAND = ["jose", "@redis/client"];

/**
 * @param {{ entry: string, outfile: string, external?: string[] }} options
 * @returns {Promise<import("esbuild").Metafile>} what went into the file
 */
export async function bundleFunction({ entry, outfile, external = LOADED_ON_DEMAND }) {
  const { metafile } = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: "esm",
    // Node's builtins stay imports.
    platform: "node",
    // The oldest Node we run on (package.json's engines); the hosts run 22.
    target: "node20",
    minify: true,
    external,
    metafile: true,
    logLevel: "warning",
  });
  return metafile;
}
