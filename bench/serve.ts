/**
 * The child process that serves one system under test: it imports a bundled entry
 * point (given as the first argument), serves it from node:http through
 * server/node-http.ts, the same way for every system, and prints one READY line
 * with its timings. Bundled by bench/build.ts and run with plain `node`.
 */
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { sendWebResponse, toWebRequest } from "../server/node-http.ts";
import { SERVE_READY, type ServeReady } from "./protocol.ts";

type WebHandler = (request: Request, context: unknown) => Response | Promise<Response>;

function handlerOf(exported: unknown): WebHandler {
  if (typeof exported === "function") return exported as WebHandler;
  const fetcher = (exported as { fetch?: unknown } | undefined)?.fetch;
  if (typeof fetcher === "function") return (request) => fetcher.call(exported, request) as Promise<Response>;
  throw new Error("the entry point's default export is neither a function nor { fetch }");
}

async function main(): Promise<void> {
  const [entry] = process.argv.slice(2);
  const port = Number(process.env.BENCH_PORT);
  if (!entry || !Number.isInteger(port) || port <= 0) throw new Error("usage: BENCH_PORT=<port> node serve.mjs <entry.mjs>");

  const handler = handlerOf((await import(pathToFileURL(entry).href)).default);
  const importedAt = performance.now();
  const origin = `http://127.0.0.1:${port}`;

  const server = createServer(async (req, res) => {
    let response: Response;
    try {
      // The part of Netlify's context our function reads: the client's address.
      response = await handler(toWebRequest(req, origin), { ip: req.socket.remoteAddress });
    } catch {
      response = new Response("handler threw", { status: 500 });
    }
    await sendWebResponse(res, response).catch(() => res.destroy());
  });
  // One backlog for every system, large enough that a burst of connections is not
  // turned into SYN retransmits by the listen queue.
  await new Promise<void>((resolve) => server.listen({ port, host: "127.0.0.1", backlog: 4096 }, resolve));
  const ready: ServeReady = { importedAt };
  process.stdout.write(`${SERVE_READY}${JSON.stringify(ready)}\n`);
}

main().catch((error) => {
  console.error(`serve failed: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
