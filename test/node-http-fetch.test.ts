/**
 * The Node adapters' upstream client (node/http-fetch.ts) against real servers on
 * 127.0.0.1, plain and TLS. The provider chain's fault matrix also runs through
 * it (test/chain.test.ts); these cases pin down what the core relies on.
 */
import { getEventListeners } from "node:events";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeFetch } from "../node/http-fetch.ts";
import { MAX_UPSTREAM_BODY_BYTES, UpstreamBodyTooLarge } from "../shared/upstream/capped-body.ts";
import { fetchWithin } from "../shared/upstream/upstream.ts";
import { readBody } from "./fake-upstream.ts";
import { freePort } from "./helpers/process.ts";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let handler: Handler = (_req, res) => res.end();
let connections = 0;
const sockets = new Set<Socket>();

function track(server: Server): Server {
  server.on("connection", (socket: Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  return server;
}

const respond = async (req: IncomingMessage, res: ServerResponse) => handler(req, res, await readBody(req));
const plain = track(createHttpServer(respond));
const TLS = join(import.meta.dirname, "fixtures", "tls");
const secure = track(createHttpsServer({ key: readFileSync(join(TLS, "key.pem")), cert: readFileSync(join(TLS, "cert.pem")) }, respond));
let origin = "";
let secureOrigin = "";

const listen = (server: Server) =>
  new Promise<string>((resolve) => server.listen(0, "127.0.0.1", () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`)));

beforeAll(async () => {
  origin = `http://${await listen(plain)}`;
  secureOrigin = `https://${await listen(secure)}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all([plain, secure].map((server) => new Promise((resolve) => server.close(resolve))));
});

const init = (extra: Partial<Parameters<typeof nodeFetch>[1]> = {}) => ({
  method: "GET",
  headers: {},
  signal: new AbortController().signal,
  redirect: "manual" as const,
  maxBodyBytes: MAX_UPSTREAM_BODY_BYTES,
  ...extra,
});

describe("nodeFetch", () => {
  it("sends the method, headers and body, and reads the status, every header and the whole body", async () => {
    let seen: Record<string, string | undefined> | undefined;
    handler = (req, res, body) => {
      const { authorization: auth, "content-type": type, "content-length": length, "transfer-encoding": chunked } = req.headers;
      seen = { method: req.method, auth, type, length, chunked, body };
      res.writeHead(201, [
        ["content-type", "application/json"],
        ["set-cookie", "a=1"],
        ["set-cookie", "b=2"],
        ["retry-after", "7"],
      ]);
      res.write('{"part":');
      res.end('"two"}');
    };
    const body = '{"ttl":60,"customIdentifier":"ünï"}';
    const response = await nodeFetch(
      `${origin}/v1/x?q=1`,
      init({ method: "POST", headers: { authorization: "Bearer t", "content-type": "application/json" }, body }),
    );
    // A Content-Length in bytes, not chunked: some APIs refuse chunked request bodies.
    expect(seen).toEqual({
      method: "POST",
      auth: "Bearer t",
      type: "application/json",
      length: String(Buffer.byteLength(body)),
      chunked: undefined,
      body,
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("retry-after")).toBe("7");
    expect(response.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(await response.text()).toBe('{"part":"two"}');
  });

  it("reads UTF-8 split across chunks", async () => {
    const bytes = Buffer.from('{"name":"ünïcödé €"}');
    handler = (_req, res) => {
      res.write(bytes.subarray(0, 10));
      setTimeout(() => res.end(bytes.subarray(10)), 5);
    };
    expect(await (await nodeFetch(origin, init())).text()).toBe('{"name":"ünïcödé €"}');
  });

  it("answers a 204 with an empty body", async () => {
    handler = (_req, res) => {
      res.writeHead(204);
      res.end();
    };
    const response = await nodeFetch(origin, init({ method: "DELETE" }));
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
  });

  // Before the next case, whose connection the agent keeps.
  it("refuses a certificate it cannot verify", async () => {
    const error = await nodeFetch(`${secureOrigin}/v1`, init()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TypeError);
  });

  it("talks TLS to an https: URL", async () => {
    handler = (req, res) => res.end(JSON.stringify({ encrypted: (req.socket as { encrypted?: boolean }).encrypted === true }));
    const previous = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    // The fixture certificate is self-signed.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
    try {
      const response = await nodeFetch(`${secureOrigin}/v1`, init());
      expect(JSON.parse(await response.text())).toEqual({ encrypted: true });
    } finally {
      if (previous === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previous;
    }
  });

  it("keeps one connection alive across sequential calls", async () => {
    handler = (_req, res) => res.end("{}");
    await nodeFetch(origin, init());
    const before = connections;
    for (let i = 0; i < 10; i += 1) await nodeFetch(origin, init());
    expect(connections - before).toBe(0);
  });

  it("fails like fetch when nothing listens: a TypeError whose cause carries ECONNREFUSED", async () => {
    const port = await freePort();
    const error = (await nodeFetch(`http://127.0.0.1:${port}/`, init()).catch((caught: unknown) => caught)) as TypeError & {
      cause?: { code?: string };
    };
    expect(error).toBeInstanceOf(TypeError);
    expect(error.cause?.code).toBe("ECONNREFUSED");
  });

  it("fails when the connection closes before the declared body ends", async () => {
    handler = (req, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write('{"iceServers":');
      setTimeout(() => req.socket.destroy(), 10);
    };
    const error = (await nodeFetch(origin, init()).catch((caught: unknown) => caught)) as TypeError & { cause?: { code?: string } };
    expect(error).toBeInstanceOf(TypeError);
    expect(error.cause?.code).toBe("ECONNRESET");
  });

  it("reads a body of exactly the cap", async () => {
    handler = (_req, res) => res.end("x".repeat(MAX_UPSTREAM_BODY_BYTES));
    expect((await (await nodeFetch(origin, init())).text()).length).toBe(MAX_UPSTREAM_BODY_BYTES);
  });

  it("refuses a declared Content-Length over the cap at once, without waiting for the body", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-length": String(300 * 1024 * 1024) });
      res.write("{");
    };
    const error = await nodeFetch(origin, init()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UpstreamBodyTooLarge);
    // A caller that names no cap gets the core's.
    const { maxBodyBytes: _, ...uncapped } = init();
    expect(await nodeFetch(origin, uncapped).catch((caught: unknown) => caught)).toMatchObject({ maxBytes: MAX_UPSTREAM_BODY_BYTES });
  });

  it("cuts off a chunked body at the cap and drops the connection, so memory stays bounded", async () => {
    let written = 0;
    let closed: () => void = () => {};
    const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
    handler = (req, res) => {
      req.socket.on("close", () => closed());
      const chunk = Buffer.alloc(64 * 1024, "x");
      // Writes as fast as the client reads, up to 64 MiB, until the connection is dropped.
      const pump = () => {
        while (written < 64 * 1024 * 1024 && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
      };
      res.writeHead(200, { "content-type": "application/json" });
      pump();
    };
    const error = await nodeFetch(origin, init()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UpstreamBodyTooLarge);
    await connectionClosed;
    // What the kernel's socket buffers took before the client let go; the client itself kept at most the cap.
    expect(written).toBeLessThan(32 * 1024 * 1024);
  });

  it("refuses a URL that is not http: or https:", async () => {
    await expect(nodeFetch("ftp://127.0.0.1/", init())).rejects.toBeInstanceOf(TypeError);
  });

  it("stops when the core's deadline aborts it, headers or body pending", async () => {
    handler = () => {};
    const hung = await fetchWithin(nodeFetch, { url: origin, method: "GET", headers: {} }, 150, "Up").catch((caught: unknown) => caught);
    expect(hung).toMatchObject({ code: "upstream_timeout" });
    handler = (_req, res) => res.write("{");
    const stalled = await fetchWithin(nodeFetch, { url: origin, method: "GET", headers: {} }, 150, "Up").catch((caught: unknown) => caught);
    expect(stalled).toMatchObject({ code: "upstream_timeout" });
    // The aborted requests do not linger: their sockets are closed.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sockets.size).toBeLessThanOrEqual(1);
  });

  it("rejects an already aborted signal without connecting, and leaves no listener on a signal once answered", async () => {
    let requests = 0;
    handler = (_req, res) => {
      requests += 1;
      res.end("{}");
    };
    const controller = new AbortController();
    controller.abort();
    expect(await nodeFetch(origin, init({ signal: controller.signal })).catch((caught: unknown) => caught)).toBeInstanceOf(TypeError);
    expect(requests).toBe(0);
    const answered = new AbortController();
    expect(await (await nodeFetch(origin, init({ signal: answered.signal }))).text()).toBe("{}");
    expect(getEventListeners(answered.signal, "abort")).toHaveLength(0);
  });

  it("rejects at once when aborted", async () => {
    handler = () => {};
    const controller = new AbortController();
    const pending = nodeFetch(origin, init({ signal: controller.signal })).catch((caught: unknown) => caught);
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
  });
});
