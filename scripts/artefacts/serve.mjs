/**
 * The HTTP front of a host's runtime, for a built artefact: Node's http server turns each
 * request into a web Request, asks the host-specific `answer` for a Response, and writes it
 * back. Plain JavaScript on purpose: the artefact must load in a bare `node` process, with
 * no TypeScript loader that could resolve a `.ts` import it does not ship.
 * Prints "listening on PORT" when ready; stops on SIGTERM.
 */
import { createServer } from "node:http";

/** @param {(request: Request, clientAddress: string) => Promise<Response>} answer */
export function serve(answer) {
  const server = createServer(async (incoming, outgoing) => {
    try {
      const chunks = [];
      for await (const chunk of incoming) chunks.push(chunk);
      const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
      const headers = new Headers();
      for (const [name, value] of Object.entries(incoming.headers)) {
        for (const item of Array.isArray(value) ? value : [value]) if (item !== undefined) headers.append(name, item);
      }
      const request = new Request(`https://${incoming.headers.host}${incoming.url}`, {
        method: incoming.method,
        headers,
        body: incoming.method === "GET" || incoming.method === "HEAD" ? undefined : body,
      });
      const response = await answer(request, incoming.socket.remoteAddress ?? "");
      outgoing.writeHead(response.status, Object.fromEntries(response.headers));
      outgoing.end(Buffer.from(await response.arrayBuffer()));
    } catch (error) {
      // The host's runtime answers an uncaught failure with a bare 500; the contract then fails loudly.
      console.error("runtime: the function threw", error);
      outgoing.writeHead(500).end();
    }
  });
  server.listen(0, "127.0.0.1", () => console.log(`listening on ${server.address().port}`));
  process.once("SIGTERM", () => server.close(() => process.exit(0)));
}
