/** A bounded HTTP/1.1 request from the bench process, on its own connection. */
import { request as httpRequest } from "node:http";

export interface Reply {
  status: number;
  body: string;
}

export interface SendOptions {
  method?: string;
  body?: string;
  /** The whole exchange's budget; the request fails after it. */
  timeoutMs?: number;
}

export function send(url: string, options: SendOptions = {}): Promise<Reply> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) headers["content-length"] = String(Buffer.byteLength(options.body));
    // agent: false opens a fresh connection, as a new browser would, and keeps nothing pooled.
    const req = httpRequest(url, { method: options.method ?? "GET", headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", fail);
    });
    const timer = setTimeout(() => req.destroy(new Error(`${url} did not answer within ${timeoutMs} ms`)), timeoutMs);
    function fail(error: Error) {
      clearTimeout(timer);
      reject(error);
    }
    req.on("error", fail);
    req.end(options.body);
  });
}

export async function sendJson<T>(url: string, options: SendOptions = {}): Promise<T> {
  const reply = await send(url, options);
  if (reply.status < 200 || reply.status > 299) throw new Error(`${url} answered ${reply.status}: ${reply.body.slice(0, 200)}`);
  return JSON.parse(reply.body) as T;
}
