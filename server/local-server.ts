import { createServer, STATUS_CODES, type IncomingMessage, type Server } from "node:http";
import type { Socket } from "node:net";
import { addressKey } from "../shared/rate-limit/client-key.ts";
import { ServiceError } from "../shared/errors.ts";
import { formatLogger, type LogFormat, type Logger } from "../shared/log.ts";
import { errorResponse } from "../shared/http/respond.ts";
import type { LocalHosts } from "./local-hosts.ts";
import { sendWebResponse, toWebRequest } from "./node-http.ts";

/**
 * Node's defaults let a slow client hold a socket for 300 s (requestTimeout) and check only
 * every 30 s; a body here is at most 4 KiB, so a few seconds is generous.
 */
export const LOCAL_TIMEOUTS = {
  /** From the connection (or the previous answer) to the end of the headers. */
  headersMs: 10_000,
  /** To the end of the whole request, body included. */
  requestMs: 30_000,
  /** An idle kept-alive connection between two requests. */
  keepAliveMs: 5_000,
  /** A socket with no traffic at all, such as a client that stops reading its answer. */
  idleMs: 30_000,
  /** How often the header and request deadlines are checked. */
  checkEveryMs: 1_000,
};

export interface LocalServerOptions {
  hosts: LocalHosts;
  answer(request: Request, req: IncomingMessage): Promise<Response>;
  log?: Logger;
  /** LOG_FORMAT as it is now (see shared/log.ts): the requests this server refuses itself are logged in it. */
  logFormat?: () => LogFormat;
  timeouts?: Partial<typeof LOCAL_TIMEOUTS>;
}

/**
 * The web Request for what node:http received, or a 4xx: the Host must be one this server
 * answers to, and the request-target a plain path, so the URL's host is never the caller's pick.
 */
export function localRequest(req: IncomingMessage, hosts: LocalHosts): Request {
  // node:http keeps the first of several Host lines; which one a proxy in front read is anyone's guess.
  if (req.rawHeaders.filter((name, index) => index % 2 === 0 && name.toLowerCase() === "host").length > 1) {
    throw new ServiceError("invalid_request", "a request carries one Host header");
  }
  const host = hosts.check(req.headers.host);
  const target = req.url ?? "";
  // Origin-form only: not absolute-form (http://…), not //host/…, not a backslash that URL parsing reads as a slash.
  if (!target.startsWith("/") || target.startsWith("//") || target.includes("\\")) {
    throw new ServiceError("invalid_request", "the request-target must be a plain path such as /api/ice-servers");
  }
  const request = toWebRequest(req, `http://${host}`);
  if (new URL(request.url).host !== host) {
    throw new ServiceError("invalid_request", "the request-target must be a plain path such as /api/ice-servers");
  }
  return request;
}

/** A whole answer written straight to a socket node:http has given up on (a parse error or a timeout). */
async function writeRaw(socket: Socket, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  const head = [`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ""}`];
  response.headers.forEach((value, name) => {
    head.push(`${name}: ${value}`);
  });
  head.push(`content-length: ${body.byteLength}`, "connection: close", "", "");
  socket.end(Buffer.concat([Buffer.from(head.join("\r\n"), "latin1"), body]));
}

/** `npm start`'s HTTP server: it answers whatever a client sends, and never lets one take it down. */
export function createLocalServer(options: LocalServerOptions): Server {
  const timeouts = { ...LOCAL_TIMEOUTS, ...options.timeouts };
  const log = options.log ?? console;
  const server = createServer(
    {
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      keepAliveTimeout: timeouts.keepAliveMs,
      connectionsCheckingInterval: timeouts.checkEveryMs,
      // localRequest answers a missing Host itself, in JSON like every other refusal.
      requireHostHeader: false,
    },
    (req, res) => {
      void (async () => {
        const started = performance.now();
        let response: Response;
        try {
          response = await options.answer(localRequest(req, options.hosts), req);
        } catch (error) {
          // Refused before the core saw it (the core logs its own requests).
          const logger = formatLogger(log, options.logFormat?.() ?? "text");
          // Only the kind: a message could quote the request.
          if (!(error instanceof ServiceError)) {
            logger.error(`unexpected failure handling ${req.method}: ${(error as Error)?.name ?? typeof error}`, {
              event: "unexpected_failure",
            });
          }
          response = errorResponse(error);
          logger.request({
            route: "none",
            method: req.method ?? "",
            status: response.status,
            error: error instanceof ServiceError ? error.code : "internal_error",
            tried: [],
            attempts: 0,
            durationMs: Math.round((performance.now() - started) * 10) / 10,
            caller: "anonymous",
            ...(req.socket.remoteAddress && { client: addressKey(req.socket.remoteAddress) }),
          });
        }
        await sendWebResponse(res, response);
      })().catch(() => res.destroy());
    },
  );
  server.timeout = timeouts.idleMs;
  // What node:http cannot parse, or a client too slow to finish, gets a JSON 4xx rather than Node's bare one.
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || error.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    const answer =
      error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? new ServiceError("request_timeout", "the request took too long to arrive")
        : new ServiceError("invalid_request", "the request is not valid HTTP/1.1");
    writeRaw(socket, errorResponse(answer)).catch(() => socket.destroy());
  });
  return server;
}
