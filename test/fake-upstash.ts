/**
 * A fake Upstash Redis REST API in front of a real Redis, faithful to the documented
 * protocol: `POST /` with the command as a JSON array and `Authorization: Bearer
 * <token>` answers 200 {"result": …}; a Redis error answers 400 {"error": "…"}; a
 * wrong or missing token answers 401 {"error": "Unauthorized"}. `POST /pipeline`
 * takes an array of commands and answers an array of {"result"} / {"error"} objects,
 * and the path form (`GET /incr/key`) works too. Commands go to Redis unchanged,
 * through node-redis (`@redis/client`)'s sendCommand. Runs under Node (Deno tests start it
 * in a child process: test/helpers/upstash-server.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createClient, ErrorReply } from "@redis/client";

export interface UpstashRecord {
  path: string;
  /** Whether the request carried the right token. */
  authorized: boolean;
  /** The command(s) asked for, as sent (for /pipeline, one per entry). */
  commands: string[][];
}

export interface FakeUpstash {
  /** The base to configure as UPSTASH_REDIS_REST_URL, such as http://127.0.0.1:PORT */
  readonly url: string;
  readonly requests: UpstashRecord[];
  reset(): void;
  close(): Promise<void>;
}

export interface FakeUpstashOptions {
  /** The Redis to forward to, such as redis://127.0.0.1:6379 */
  redisUrl: string;
  token: string;
  /** Largest request body accepted, in bytes (Upstash's own limit is far larger). */
  maxBodyBytes?: number;
}

type Reply = { status: number; body: unknown };

const MAX_PIPELINE = 1000;

function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) chunks.push(chunk);
    });
    req.on("end", () => resolve(size <= max ? Buffer.concat(chunks).toString("utf8") : undefined));
    req.on("error", reject);
  });
}

/** Upstash takes strings and numbers as arguments, and sends them to Redis as strings. */
function asCommand(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const args: string[] = [];
  for (const item of value) {
    if (typeof item === "string") args.push(item);
    else if (typeof item === "number" && Number.isFinite(item)) args.push(String(item));
    else if (typeof item === "boolean") args.push(String(item));
    else return undefined;
  }
  return args;
}

function bearer(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  const match = header ? /^Bearer (.+)$/i.exec(header.trim()) : null;
  return match?.[1] ?? url.searchParams.get("_token") ?? undefined;
}

export async function startFakeUpstash(options: FakeUpstashOptions): Promise<FakeUpstash> {
  const maxBody = options.maxBodyBytes ?? 1_000_000;
  const requests: UpstashRecord[] = [];
  const sockets = new Set<Socket>();
  const redis = createClient({
    url: options.redisUrl,
    // While Redis is down, fail at once (answered as a 5xx) and keep reconnecting.
    disableOfflineQueue: true,
    socket: { connectTimeout: 1000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000) },
  });
  redis.on("error", () => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      redis.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("fake Upstash: Redis did not accept a connection within 10 s")), 10_000);
      }),
    ]);
  } catch (error) {
    redis.destroy();
    throw error;
  } finally {
    clearTimeout(timer);
  }

  async function run(command: string[]): Promise<{ result: unknown } | { error: string }> {
    try {
      return { result: await redis.sendCommand(command) };
    } catch (error) {
      if (error instanceof ErrorReply) return { error: error.message };
      throw error;
    }
  }

  async function answer(req: IncomingMessage, url: URL, record: UpstashRecord): Promise<Reply> {
    const text = await readBody(req, maxBody);
    if (!record.authorized) return { status: 401, body: { error: "Unauthorized" } };
    if (text === undefined) return { status: 413, body: { error: "ERR max request size exceeded" } };
    const segments = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);

    if (segments.length === 1 && segments[0] === "pipeline") {
      if (req.method !== "POST") return { status: 405, body: { error: "Method Not Allowed" } };
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return { status: 400, body: { error: "ERR failed to parse pipeline request" } };
      }
      const commands = Array.isArray(parsed) && parsed.length <= MAX_PIPELINE ? parsed.map(asCommand) : undefined;
      if (!commands || commands.length === 0 || commands.some((command) => command === undefined)) {
        return { status: 400, body: { error: "ERR failed to parse pipeline request" } };
      }
      record.commands = commands as string[][];
      const replies = [];
      for (const command of record.commands) replies.push(await run(command));
      return { status: 200, body: replies };
    }

    let command: string[] | undefined;
    if (segments.length === 0) {
      if (req.method !== "POST") return { status: 405, body: { error: "Method Not Allowed" } };
      try {
        command = asCommand(JSON.parse(text));
      } catch {
        command = undefined;
      }
    } else {
      // The path form: /cmd/arg1/arg2, with a POST body as the last argument.
      command = req.method === "POST" && text !== "" ? [...segments, text] : segments;
    }
    if (!command) return { status: 400, body: { error: "ERR failed to parse command" } };
    record.commands = [command];
    const reply = await run(command);
    return { status: "error" in reply ? 400 : 200, body: reply };
  }

  const server = createServer(async (req, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://fake-upstash");
    const record: UpstashRecord = { path: url.pathname, authorized: bearer(req, url) === options.token, commands: [] };
    requests.push(record);
    let reply: Reply;
    try {
      reply = await answer(req, url, record);
    } catch {
      // Redis unreachable: Upstash answers with a server error, never the cause.
      reply = { status: 503, body: { error: "Service Unavailable" } };
    }
    if (res.destroyed) return;
    res.writeHead(reply.status, { "content-type": "application/json" });
    res.end(JSON.stringify(reply.body));
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    reset() {
      requests.length = 0;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // destroy(), not quit(): quit() would wait for a Redis that may already be stopped.
      redis.destroy();
    },
  };
}
