/**
 * A GET sent from a chosen loopback address (127.0.0.2, 127.0.0.3…): the hosts' runtime
 * stand-ins place a caller by the address it connects from, as the hosts' edges do.
 */
import { request } from "node:http";

export function fetchFrom(localAddress: string, url: string, headers: Record<string, string> = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { localAddress, headers }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("end", () => {
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(incoming.headers)) {
          for (const item of Array.isArray(value) ? value : [value]) if (item !== undefined) responseHeaders.append(name, item);
        }
        resolve(new Response(Buffer.concat(chunks), { status: incoming.statusCode, headers: responseHeaders }));
      });
      incoming.on("error", reject);
    });
    outgoing.setTimeout(30_000, () => outgoing.destroy(new Error(`no answer from ${url} within 30 s`)));
    outgoing.on("error", reject);
    outgoing.end();
  });
}
