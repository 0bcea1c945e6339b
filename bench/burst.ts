/**
 * A burst: `count` requests sent at once, each on its own connection (as many
 * browsers would), timed from the first send to the last answer. The client is a
 * bare TCP socket writing one fixed request and reading the status line, so that
 * the bench's own CPU takes as little as it can from the system under test.
 */
import { connect } from "node:net";
import { cpuMs } from "./children.ts";

export interface BurstSample {
  wallMs: number;
  ok: number;
  failed: number;
  /** CPU the serving process used during the burst, in ms (Linux only). */
  serverCpuMs?: number;
  /** CPU this process (the client) used during the burst, in ms. */
  clientCpuMs: number;
}

/** One GET on a fresh connection; resolves with the status code (0 when the answer was not HTTP). */
function rawGet(url: URL, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    let head = "";
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.setNoDelay(true);
    socket.on("connect", () => socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`));
    socket.on("data", (chunk: Buffer) => {
      if (head.length < 12) head += chunk.toString("latin1", 0, 12);
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    // The server closes the connection once the whole answer is sent.
    socket.on("end", () => {
      clearTimeout(timer);
      resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0));
    });
  });
}

export async function burst(url: string, count: number, servingPid?: number, timeoutMs = 20_000): Promise<BurstSample> {
  const target = new URL(url);
  const serverBefore = cpuMs(servingPid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const replies = await Promise.allSettled(Array.from({ length: count }, () => rawGet(target, timeoutMs)));
  const wallMs = performance.now() - started;
  const client = process.cpuUsage(clientBefore);
  const serverAfter = cpuMs(servingPid);
  const ok = replies.filter((reply) => reply.status === "fulfilled" && reply.value === 200).length;
  return {
    wallMs,
    ok,
    failed: count - ok,
    serverCpuMs: serverBefore !== undefined && serverAfter !== undefined ? serverAfter - serverBefore : undefined,
    clientCpuMs: (client.user + client.system) / 1000,
  };
}
