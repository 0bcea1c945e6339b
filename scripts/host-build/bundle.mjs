/**
 * The one way we bundle a function for what a host ships (each host's build script calls it): our
 * code and the packages it imports statically, such as valibot, become one minified ESM file for
 * Node, tree-shaken, so that a cold start parses one file instead of resolving and loading dozens.
 * The packages loaded on demand stay `import()`s, each of a file of its own beside the function
 * (bundlePackagesInto), so that a cold start loads neither and nothing resolves from node_modules:
 * the hosts then ship the folder as it is (Vercel's Build Output, Netlify's `node_bundler = "none"`).
 */
import { join } from "node:path";
import { build } from "esbuild";

/** The packages the core imports only when a request needs them: a JWT to verify, REDIS_URL set. */
export const LOADED_ON_DEMAND = ["jose", "@redis/client"];

/** Where each of them goes, relative to the function's file. */
const PACKAGE_FILES = Object.fromEntries(LOADED_ON_DEMAND.map((pkg) => [pkg, `lazy/${pkg.replace(/^@/, "").replace("/", "-")}.mjs`]));

/** Minified ESM for the oldest Node we run on (package.json's engines); the hosts run 22. Node's builtins stay imports. */
const COMMON = { bundle: true, format: "esm", platform: "node", target: "node20", minify: true, logLevel: "warning" };

/**
 * One function as one file, whose import() of each package loaded on demand loads that package's
 * file beside it: bundlePackagesInto the same folder writes them.
 * @param {{ entry: string, outfile: string }} options
 * @returns {Promise<import("esbuild").Metafile>} what went into the file
 */
export async function bundleFunction({ entry, outfile }) {
  const { metafile } = await build({ ...COMMON, entryPoints: [entry], outfile, plugins: [packagesApart], metafile: true });
  return metafile;
}

/** The files bundleFunction's import()s load, written into `dir`, the folder of the function's file. */
export async function bundlePackagesInto(dir) {
  for (const [pkg, file] of Object.entries(PACKAGE_FILES)) await bundlePackage(pkg, join(dir, file));
}

/** Resolves each package loaded on demand to its file beside the bundle, left external. */
const packagesApart = {
  name: "packages-apart",
  setup(builder) {
    for (const [pkg, file] of Object.entries(PACKAGE_FILES)) {
      const exactly = new RegExp(`^${pkg.replace(/[/@]/g, "\\$&")}$`);
      builder.onResolve({ filter: exactly }, () => ({ path: `./${file}`, external: true }));
    }
  },
};

/**
 * `pkg` as one ES module file with the exports Node's own import of it has (a CommonJS package, such
 * as @redis/client, would otherwise have only a default export in an ES bundle), and a require() for
 * a CommonJS package's own require() of Node's modules.
 */
async function bundlePackage(pkg, outfile) {
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
