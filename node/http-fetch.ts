/**
 * The upstream client for the Node runtimes, on node:http and node:https with
 * keep-alive agents. Node's global fetch runs every body through WHATWG streams:
 * on loopback it costs about twice the CPU per call, which is most of a
 * Cloudflare request's CPU (bench: `npm run bench`). It does only what the core
 * asks of a fetch: one request, the status, the headers and the whole body as
 * text, at most init.maxBodyBytes (by default the core's cap) of it; no
 * redirects, no cookies. The time budget stays with the core
 * (fetchWithin), which aborts through the signal.
 */
import http from "node:http";
import https from "node:https";
import { declaredOver, MAX_UPSTREAM_BODY_BYTES, UpstreamBodyTooLarge } from "../shared/upstream/capped-body.ts";
import type { Fetch, UpstreamResponse } from "../shared/upstream/upstream.ts";

// Node's own global agents' settings: the most recently used connection first, and an idle one
// closed after 5 s, before a provider is likely to close it under us.
const AGENT_OPTIONS = { keepAlive: true, scheduling: "lifo", timeout: 5000 } as const;
const clients = {
  "http:": { request: http.request, agent: new http.Agent(AGENT_OPTIONS) },
  "https:": { request: https.request, agent: new https.Agent(AGENT_OPTIONS) },
} as const;

// The same shape as the global fetch's failures, so the core reads the system code (ECONNREFUSED) from the cause.
const failed = (cause: unknown) => new TypeError("fetch failed", { cause });
// What Node's own `signal` option destroys the request with.
const aborted = (signal: AbortSignal) =>
  Object.assign(new Error("The operation was aborted"), { name: "AbortError", code: "ABORT_ERR", cause: signal.reason });

function headersOf(raw: http.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  return headers;
}

export const nodeFetch: Fetch = (url, init) =>
  new Promise<UpstreamResponse>((resolve, reject) => {
    const target = new URL(url);
    const client = clients[target.protocol as keyof typeof clients];
    if (!client) {
      reject(failed(new Error(`unsupported protocol ${target.protocol}`)));
      return;
    }
    const { signal } = init;
    if (signal.aborted) {
      reject(failed(aborted(signal)));
      return;
    }
    const request = client.request(target, { method: init.method, headers: init.headers, agent: client.agent }, (response) => {
      // Past the cap the connection is dropped: a declared length at once, a chunked body as it streams in.
      const maxBytes = init.maxBodyBytes ?? MAX_UPSTREAM_BODY_BYTES;
      const tooLarge = () => {
        response.destroy();
        reject(new UpstreamBodyTooLarge(maxBytes));
      };
      if (declaredOver(response.headers["content-length"], maxBytes)) {
        tooLarge();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) tooLarge();
        else chunks.push(chunk);
      });
      response.on("error", (error) => reject(failed(error)));
      response.on("close", () => {
        // A connection that closes before the declared end of the body is a failure, not a short body.
        if (!response.complete) {
          reject(failed(Object.assign(new Error("the connection closed before the body ended"), { code: "ECONNRESET" })));
          return;
        }
        const body = Buffer.concat(chunks).toString("utf8");
        resolve({ status: response.statusCode ?? 0, headers: headersOf(response.headers), text: async () => body });
      });
    });
    request.on("error", (error) => reject(failed(error)));
    // One listener, not Node's `signal` option, which wires the request through its stream helpers
    // (add-abort-signal, end-of-stream): ~0.4 ms more on a cold process's first call, ~10% more CPU per call.
    const abort = () => request.destroy(aborted(signal));
    signal.addEventListener("abort", abort, { once: true });
    request.on("close", () => signal.removeEventListener("abort", abort));
    request.end(init.body);
  });
