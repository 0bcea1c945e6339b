/**
 * The bench's own stand-in for Cloudflare's generate-ice-servers endpoint, in a child process
 * so that its work and timers do not share an event loop with the load generator. It answers
 * the documented 201 shape at once, after a set latency, or never (a hang): the bench measures
 * our overhead, not the fake's fidelity, which the tests' fakes in test/ are for. A second,
 * separate server on 127.0.0.1 is its control channel, never counted as the fake's traffic.
 *
 *   GET  /stats  → {"requests": n, "connections": n}
 *   POST /reset  → forgets requests, connections and the fault
 *   POST /fault  → body: a BenchFault as JSON, or null to clear it
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { FAKE_KEY_ID, FAKE_READY, FAKE_TOKEN_VARIABLE, type BenchFault, type FakeListening, type FakeStats } from "./protocol.ts";

const CREDENTIALS_PATH = `/v1/turn/keys/${FAKE_KEY_ID}/credentials`;
const STUN_URLS = ["stun:stun.cloudflare.com:3478", "stun:stun.cloudflare.com:53"];
// Cloudflare's documented set, port-53 alternates included, so the bench pays for filtering them.
const TURN_URLS = (
  [
    ["turn", 3478, "udp"],
    ["turn", 53, "udp"],
    ["turn", 3478, "tcp"],
    ["turn", 80, "tcp"],
    ["turns", 5349, "tcp"],
    ["turns", 443, "tcp"],
  ] as const
).map(([scheme, port, transport]) => `${scheme}:turn.cloudflare.com:${port}?transport=${transport}`);

let fault: BenchFault | undefined;
let requests = 0;
let minted = 0;
const sockets = new Set<Socket>();
let connections = 0;

function drain(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (text += chunk));
    request.on("end", () => resolve(text));
    request.on("error", reject);
  });
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  response.end(text);
}

function mint(): { username: string; credential: string } {
  minted += 1;
  const serial = minted.toString(16).padStart(32, "0");
  return { username: `u${serial}`, credential: `c${serial}` };
}

/**
 * generate-ice-servers: STUN URLs alone, then the TURN URLs with one credential. The older
 * /generate (what the seed's naive function calls): one object with every URL.
 */
const ANSWERS: Record<string, () => unknown> = {
  [`${CREDENTIALS_PATH}/generate-ice-servers`]: () => ({ iceServers: [{ urls: STUN_URLS }, { urls: TURN_URLS, ...mint() }] }),
  [`${CREDENTIALS_PATH}/generate`]: () => ({ iceServers: { urls: [...STUN_URLS, ...TURN_URLS], ...mint() } }),
};

const apiToken = process.env[FAKE_TOKEN_VARIABLE];
if (!apiToken) throw new Error(`${FAKE_TOKEN_VARIABLE} is not set: bench/upstream.ts starts this process with it`);

const api = createServer(async (request, response) => {
  requests += 1;
  await drain(request);
  if (fault?.kind === "hang") return;
  const delayMs = fault?.kind === "latency" ? fault.ms : 0;
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  const answer = request.method === "POST" ? ANSWERS[request.url ?? ""] : undefined;
  if (!answer) return json(response, 404, { success: false, errors: [{ code: 404, message: "Not found" }] });
  if (request.headers.authorization !== `Bearer ${apiToken}`)
    return json(response, 401, { success: false, errors: [{ code: 401, message: "Unauthorized" }] });
  json(response, 201, answer());
});
api.on("connection", (socket: Socket) => {
  connections += 1;
  sockets.add(socket);
  socket.once("close", () => sockets.delete(socket));
});

const control = createServer(async (request, response) => {
  const body = await drain(request);
  if (request.method === "GET" && request.url === "/stats") {
    const stats: FakeStats = { requests, connections };
    return json(response, 200, stats);
  }
  if (request.method === "POST" && request.url === "/reset") {
    requests = 0;
    connections = 0;
    fault = undefined;
    return json(response, 200, { ok: true });
  }
  if (request.method === "POST" && request.url === "/fault") {
    fault = (JSON.parse(body) as BenchFault | null) ?? undefined;
    return json(response, 200, { ok: true });
  }
  json(response, 404, { error: "unknown control request" });
});

const listen = (server: typeof api) =>
  new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));

const [apiPort, controlPort] = await Promise.all([listen(api), listen(control)]);
const ready: FakeListening = { apiBase: `http://127.0.0.1:${apiPort}/v1`, control: `http://127.0.0.1:${controlPort}` };
process.stdout.write(`${FAKE_READY}${JSON.stringify(ready)}\n`);

const shutdown = () => {
  control.close();
  api.close();
  for (const socket of sockets) socket.destroy();
  process.exit(0);
};
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
