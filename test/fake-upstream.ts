/**
 * A real HTTP server on 127.0.0.1 that fake providers build on: it records every
 * request and injects faults. Written against node:http so the same fake serves
 * the Node tests and the Deno tests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type Fault =
  /** Answer normally, after a delay. */
  | { kind: "latency"; ms: number }
  /** Accept the request and never send a byte. */
  | { kind: "hang" }
  /** Answer with this status (and headers, and a body). */
  | { kind: "status"; status: number; headers?: Record<string, string>; body?: string }
  /** A 2xx whose body is not JSON. */
  | { kind: "bad-json" }
  /** A 2xx JSON body of the wrong shape. */
  | { kind: "wrong-shape" }
  /** Send the headers and part of the body, then nothing more. */
  | { kind: "stall-body" }
  /** Promise a longer body than is sent, then close the connection. */
  | { kind: "truncated" }
  /** Destroy the connection without an answer. */
  | { kind: "reset" }
  /**
   * The normal answer padded past the clients' body cap (shared/upstream/capped-body.ts) with a field
   * every parser ignores: with a Content-Length, or chunked so only counting the bytes finds out.
   */
  | { kind: "oversized"; chunked: boolean };

/** How far past the cap an oversized answer goes. */
export const OVERSIZED_PADDING_BYTES = 320 * 1024;

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: string;
}

export interface FakeReply {
  status: number;
  headers?: Record<string, string>;
  /** A string is sent as it is; anything else as JSON. */
  body?: unknown;
}

export interface FakeRoutes {
  route(request: RecordedRequest): FakeReply;
  /** A body the provider's parser must refuse, for the wrong-shape fault. */
  wrongShape: unknown;
}

export interface FakeUpstream {
  /** Base URL, such as http://127.0.0.1:PORT */
  readonly origin: string;
  readonly requests: RecordedRequest[];
  /** TCP connections accepted since the last reset: keep-alive keeps this small. */
  connections(): number;
  /**
   * A fault applied to every request until cleared with undefined; with `where`, only to the
   * requests it picks (a usage endpoint beside the credential one), the others answered normally.
   */
  setFault(fault: Fault | undefined, where?: (request: RecordedRequest) => boolean): void;
  /** Faults applied to the next requests, one each, before the standing fault. */
  queueFaults(...faults: Fault[]): void;
  /** Forgets recorded requests and faults. */
  reset(): void;
  close(): Promise<void>;
}

/** The whole body of a node:http request, as UTF-8 text. */
/** The user and password of an HTTP Basic Authorization header, as the fakes of Basic-auth APIs check it. */
export function basicCredentials(request: RecordedRequest): [string, string] | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(request.headers.authorization ?? "");
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Answers with `reply`; a body that is not a string goes as JSON. */
export function send(res: ServerResponse, reply: FakeReply): void {
  const text = reply.body === undefined ? "" : typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
  const headers: Record<string, string> = { ...(reply.headers ?? {}) };
  if (text !== "" && !Object.keys(headers).some((name) => name.toLowerCase() === "content-type")) {
    headers["content-type"] = "application/json";
  }
  res.writeHead(reply.status, headers);
  res.end(text);
}

export async function startFakeUpstream(routes: FakeRoutes): Promise<FakeUpstream> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let standing: Fault | undefined;
  let standingWhere: ((request: RecordedRequest) => boolean) | undefined;
  let connections = 0;
  const queued: Fault[] = [];

  const later = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://fake");
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    const recorded: RecordedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers,
      body: await readBody(req),
    };
    requests.push(recorded);
    const fault = queued.shift() ?? (!standingWhere || standingWhere(recorded) ? standing : undefined);

    switch (fault?.kind) {
      case "hang":
        return;
      case "reset":
        req.socket.destroy();
        return;
      case "status":
        return send(res, { status: fault.status, headers: fault.headers, body: fault.body });
      case "bad-json":
        return send(res, { status: 201, headers: { "content-type": "application/json" }, body: '{"iceServers": [ {"urls": ' });
      case "wrong-shape":
        return send(res, { status: 201, body: routes.wrongShape });
      case "stall-body":
        res.writeHead(201, { "content-type": "application/json" });
        res.write('{"iceServers": [');
        return;
      case "truncated": {
        const full = JSON.stringify(routes.route(recorded).body);
        res.writeHead(201, { "content-type": "application/json", "content-length": String(full.length) });
        res.write(full.slice(0, Math.floor(full.length / 2)));
        await later(20);
        req.socket.destroy();
        return;
      }
      case "oversized": {
        const reply = routes.route(recorded);
        const text = JSON.stringify({ ...(reply.body as object), padding: "x".repeat(OVERSIZED_PADDING_BYTES) });
        // The client drops the connection once it has seen enough; writes after that go nowhere.
        res.on("error", () => {});
        if (!fault.chunked) {
          res.writeHead(reply.status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) });
          res.end(text);
          return;
        }
        res.writeHead(reply.status, { "content-type": "application/json" });
        for (let offset = 0; offset < text.length && !res.destroyed; offset += 16 * 1024) res.write(text.slice(offset, offset + 16 * 1024));
        res.end();
        return;
      }
      case "latency":
        await later(fault.ms);
        break;
    }
    send(res, routes.route(recorded));
  });
  server.on("connection", (socket: Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    connections: () => connections,
    setFault(fault, where) {
      standing = fault;
      standingWhere = where;
    },
    queueFaults(...faults) {
      queued.push(...faults);
    },
    reset() {
      requests.length = 0;
      queued.length = 0;
      connections = 0;
      standing = undefined;
      standingWhere = undefined;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
