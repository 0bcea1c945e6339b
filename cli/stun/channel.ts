/**
 * One STUN conversation with one server over UDP, TCP or TLS: send a request, wait for the
 * answer with the same transaction id. UDP retransmits (RFC 8489 section 6.2.1: 500 ms, doubling)
 * within the caller's deadline; TCP and TLS frame messages by the length in their header.
 * Every socket is closed by close(), which the caller always calls.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { isIP, connect as connectTcp, type Socket } from "node:net";
import { connect as connectTls, rootCertificates } from "node:tls";
import { decode, messageLength, type StunMessage } from "./message.ts";

export type Transport = "udp" | "tcp" | "tls";

/** A failure with one of the probe's stable reasons. */
export class ProbeFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "ProbeFailure";
  }
}

export interface ChannelOptions {
  transport: Transport;
  host: string;
  port: number;
  /** Milliseconds since the epoch after which every wait fails with `timeout`. */
  deadline: number;
  /** Extra certificate authorities for TLS, PEM, added to Node's default roots (its own and NODE_EXTRA_CA_CERTS). */
  ca?: string;
}

export interface Channel {
  /** Sends `bytes` (a request with `transactionId`) and resolves with the answer to it. */
  request(bytes: Buffer, transactionId: Buffer): Promise<StunMessage>;
  close(): void;
}

const INITIAL_RTO_MS = 500;
const STREAM_BUFFER_LIMIT = 64 * 1024;

/**
 * Node's default roots (its bundled authorities and NODE_EXTRA_CA_CERTS) with `extra` added: a
 * `ca` option given to tls.connect replaces the default roots, so they are listed here again.
 */
function withDefaultRoots(extra: string): string[] {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  let fromEnvironment: string[] = [];
  try {
    if (file) fromEnvironment = [readFileSync(file, "utf8")];
  } catch {
    // Node warned at start-up that the file cannot be read, and trusts nothing from it either.
  }
  return [...rootCertificates, ...fromEnvironment, extra];
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_)/;

/** The stable reason for a socket error. */
export function reasonOf(error: NodeJS.ErrnoException, transport: Transport): ProbeFailure {
  const code = error.code ?? "";
  if (transport === "tls" && (TLS_CODES.test(code) || /SSL|TLS|certificate/i.test(error.message))) {
    return new ProbeFailure("tls_error", `TLS failed: ${code || error.message}`);
  }
  if (code === "ETIMEDOUT") return new ProbeFailure("timeout", "no answer in time");
  return new ProbeFailure("unreachable", `cannot reach the server: ${code || error.message}`);
}

function remainingMs(deadline: number): number {
  return Math.max(0, deadline - Date.now());
}

const timeoutFailure = () => new ProbeFailure("timeout", "no answer in time");

interface Pending {
  transactionId: Buffer;
  resolve(message: StunMessage): void;
  reject(error: Error): void;
}

/** Waits for answers and hands each to the pending request it answers; the rest is ignored. */
class Waiters {
  private pending: Pending[] = [];
  private failure: Error | undefined;

  wait(transactionId: Buffer, deadline: number): { promise: Promise<StunMessage>; cancel(): void } {
    let entry!: Pending;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const promise = new Promise<StunMessage>((resolve, reject) => {
      entry = { transactionId, resolve, reject };
      if (this.failure) return reject(this.failure);
      this.pending.push(entry);
      timer = setTimeout(() => reject(timeoutFailure()), remainingMs(deadline));
    });
    const cancel = () => {
      clearTimeout(timer);
      this.pending = this.pending.filter((candidate) => candidate !== entry);
    };
    promise.then(cancel, cancel);
    return { promise, cancel };
  }

  deliver(bytes: Buffer): void {
    const message = decode(bytes);
    if (!message) return;
    this.pending.find((entry) => entry.transactionId.equals(message.transactionId))?.resolve(message);
  }

  failAll(error: Error): void {
    this.failure ??= error;
    for (const entry of this.pending) entry.reject(this.failure);
  }
}

async function udpChannel(options: ChannelOptions): Promise<Channel> {
  const socket: UdpSocket = createSocket(isIP(options.host) === 6 ? "udp6" : "udp4");
  const waiters = new Waiters();
  socket.on("message", (bytes) => waiters.deliver(bytes));
  socket.on("error", (error) => waiters.failAll(reasonOf(error, "udp")));
  // Not connected: an ICMP port-unreachable is not reported, so a silent port reads as a timeout,
  // as a browser's ICE agent sees it.
  return {
    async request(bytes, transactionId) {
      const { promise, cancel } = waiters.wait(transactionId, options.deadline);
      let rto = INITIAL_RTO_MS;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const send = () => {
        socket.send(bytes, options.port, options.host, (error) => error && waiters.failAll(reasonOf(error, "udp")));
        timer = setTimeout(send, rto);
        rto *= 2;
      };
      send();
      try {
        return await promise;
      } finally {
        clearTimeout(timer);
        cancel();
      }
    },
    close: () => {
      waiters.failAll(new ProbeFailure("closed", "closed"));
      socket.removeAllListeners("message");
      try {
        socket.close();
      } catch {
        // Already closed.
      }
    },
  };
}

async function streamChannel(options: ChannelOptions): Promise<Channel> {
  const { transport, host, port } = options;
  const waiters = new Waiters();
  const socket: Socket = await new Promise<Socket>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(timeoutFailure());
    }, remainingMs(options.deadline));
    const socket =
      transport === "tls"
        ? // SNI carries a name, never an address.
          connectTls({
            host,
            port,
            ca: options.ca && withDefaultRoots(options.ca),
            servername: isIP(host) ? undefined : host,
            ALPNProtocols: ["stun.turn"],
          })
        : connectTcp({ host, port });
    socket.once(transport === "tls" ? "secureConnect" : "connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(reasonOf(error, transport));
    });
  });
  let buffered = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (let length = messageLength(buffered); length !== undefined && buffered.length >= length; length = messageLength(buffered)) {
      waiters.deliver(buffered.subarray(0, length));
      buffered = buffered.subarray(length);
    }
    if (buffered.length > STREAM_BUFFER_LIMIT) socket.destroy(new Error("the server sent more than a STUN message holds"));
  });
  socket.on("error", (error) => waiters.failAll(reasonOf(error, transport)));
  socket.on("close", () => waiters.failAll(new ProbeFailure("unreachable", "the server closed the connection")));
  return {
    async request(bytes, transactionId) {
      const { promise } = waiters.wait(transactionId, options.deadline);
      socket.write(bytes);
      return promise;
    },
    close: () => {
      waiters.failAll(new ProbeFailure("closed", "closed"));
      socket.destroy();
    },
  };
}

export function openChannel(options: ChannelOptions): Promise<Channel> {
  return options.transport === "udp" ? udpChannel(options) : streamChannel(options);
}
