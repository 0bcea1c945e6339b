/**
 * Ports and readiness checks for a TURN server on 127.0.0.1: npm start's own coturn
 * (server/local-relay.ts) and the tests' coturn use the same ones.
 */
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { connect, createServer } from "node:net";

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    socket.once("error", () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, "127.0.0.1", () => socket.close(() => resolve(true)));
  });
}

/** A TCP port the system chose as free a moment ago on 127.0.0.1. */
function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A port free for both TCP and UDP. coturn binds with SO_REUSEPORT, so a stale instance would
 * silently share a port with a new one: a plain bind (without it) is refused instead, which is
 * the check made here, for each protocol.
 */
export async function freeTcpUdpPort(avoid: number[] = []): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await anyFreePort();
    if (avoid.includes(port)) continue;
    if ((await tcpFree(port)) && (await udpFree(port))) return port;
  }
  throw new Error("no port free for both TCP and UDP on 127.0.0.1");
}

/** Sends a STUN Binding request over UDP; true when a matching success answer came back. */
export function stunBinding(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    const transaction = randomBytes(12);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on("error", () => {});
      socket.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on("error", () => done(false));
    socket.on("message", (data) => {
      // Binding success response (0x0101) with our transaction id.
      if (data.length >= 20 && data.readUInt16BE(0) === 0x0101 && data.subarray(8, 20).equals(transaction)) done(true);
    });
    const header = Buffer.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]);
    socket.send(Buffer.concat([header, transaction]), port, "127.0.0.1");
  });
}

export function tcpAccepts(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, timeout: timeoutMs });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Whether a TURN server answers on `port` (STUN over UDP, and TCP) and accepts TCP on each of `alsoTcp`. */
export async function turnAnswers(port: number, alsoTcp: readonly number[], timeoutMs = 300): Promise<boolean> {
  if (!(await stunBinding(port, timeoutMs)) || !(await tcpAccepts(port, timeoutMs))) return false;
  for (const other of alsoTcp) if (!(await tcpAccepts(other, timeoutMs))) return false;
  return true;
}
