/**
 * Serves one Vercel function the way `vercel dev` does, through @vercel/node's own
 * dev runtime (which needs no login). Prints "listening on PORT" when ready, and
 * shuts the function's process down on SIGTERM. Usage: tsx vercel-dev.ts vercel/ice-servers.ts
 */
import * as vercelNode from "@vercel/node";

// Exported at run time (it is what `vercel dev` calls) but missing from the package's types.
type StartDevServer = (options: Record<string, unknown>) => Promise<{ port: number; shutdown(): Promise<void> } | null>;
const { startDevServer } = vercelNode as unknown as { startDevServer: StartDevServer };

const entrypoint = process.argv[2];
if (!entrypoint) throw new Error("usage: vercel-dev.ts <entrypoint>");

const env: Record<string, string> = {};
for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;

const server = await startDevServer({
  entrypoint,
  workPath: process.cwd(),
  config: {},
  files: {},
  repoRootPath: process.cwd(),
  meta: { isDev: true, env, buildEnv: {} },
});
if (!server) throw new Error(`${entrypoint} was not started`);

console.log(`listening on ${server.port}`);
process.once("SIGTERM", async () => {
  await server.shutdown();
  process.exit(0);
});
