/**
 * The one way we bundle a function for what a host ships (each host's build script calls it): our
 * code and the packages it imports statically, such as valibot, become one minified ESM file for
 * Node, tree-shaken, so that a cold start parses one file instead of resolving and loading dozens.
 * The packages loaded on demand stay `import()`s: of the package itself, which the host's tracer
 * ships beside the file (Netlify), or of a file of their own beside it (Vercel, which traces nothing
 * into a Build Output function), so that a cold start loads neither.
 */
import { build } from "esbuild";

/** The packages the core imports only when a request needs them: a JWT to verify, REDIS_URL set. */
export const LOADED_ON_DEMAND = ["jose", "@redis/client"];

/** Minified ESM for the oldest Node we run on (package.json's engines); the hosts run 22. Node's builtins stay imports. */
const COMMON = { bundle: true, format: "esm", platform: "node", target: "node20", minify: true, logLevel: "warning" };

/**
 * @param {{ entry: string, outfile: string, packageFiles?: Record<string, string> }} options
 *   packageFiles: where each package loaded on demand is, relative to `outfile` (bundled apart with
 *   bundlePackage); without it, each stays an import of the package.
 * @returns {Promise<import("esbuild").Metafile>} what went into the file
 */
export async function bundleFunction({ entry, outfile, packageFiles }) {
  const { metafile } = await build({
    ...COMMON,
    entryPoints: [entry],
    outfile,
    external: packageFiles ? [] : LOADED_ON_DEMAND,
    plugins: packageFiles ? [importedFrom(packageFiles)] : [],
    metafile: true,
  });
  return metafile;
}

/** Resolves each package named in `packageFiles` to its file beside the bundle, left external. */
const importedFrom = (packageFiles) => ({
  name: "packages-apart",
  setup(builder) {
    for (const [pkg, file] of Object.entries(packageFiles)) {
      const exactly = new RegExp(`^${pkg.replace(/[/@]/g, "\\$&")}$`);
      builder.onResolve({ filter: exactly }, () => ({ path: `./${file}`, external: true }));
    }
  },
});

/**
 * `pkg` as one ES module file with the exports Node's own import of it has (a CommonJS package, such
 * as @redis/client, would otherwise have only a default export in an ES bundle), and a require() for
 * a CommonJS package's own require() of Node's modules.
 */
export async function bundlePackage(pkg, outfile) {
  const names = Object.keys(await import(pkg)).filter((name) => name !== "default" && /^[A-Za-z_$][\w$]*$/.test(name));
  await build({
    ...COMMON,
    stdin: {
      contents: `const m = require(${JSON.stringify(pkg)});\nexport const { ${names.join(", ")} } = m;\nexport default m;`,
      resolveDir: import.meta.dirname,
    },
    outfile,
    banner: { js: 'import{createRequire as __cr}from"node:module";const require=__cr(import.meta.url);' },
  });
}
