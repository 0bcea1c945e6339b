import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { connect, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { localHosts } from "../server/local-hosts.ts";
import { createLocalServer, LOCAL_TIMEOUTS } from "../server/local-server.ts";
import { CONTRACT_TOKEN } from "./contract/cases.ts";
import { describeContract } from "./contract/vitest-suite.ts";
import { freePort, spawnLogged, startLocalServer, waitForHttp, type Spawned } from "./helpers/process.ts";
import { alive, commandLine } from "./helpers/proc.ts";

const startLocal = (env: Record<string, string>, cwd?: string) => startLocalServer(env, { cwd });

let local: Spawned | undefined;
describeContract("npm start (local server)", async (env) => {
  const started = await startLocal(env);
  local = started.server;
  return { send: (path, init) => fetch(`${started.origin}${path}`, init), close: () => started.server.stop() };
});

it("the local server never printed the API token", () => {
  expect(local?.output()).toContain("OPERATOR: Cloudflare refused our credentials");
  expect(local!.output()).not.toContain(CONTRACT_TOKEN);
});

describe("npm start's own variables", () => {
  it("refuses a PORT that is not a port number, naming it", async () => {
    for (const value of ["abc", "0", "70000", "80.5"]) {
      const server = spawnLogged("node_modules/.bin/tsx", ["server/start.ts"], {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: value,
      });
      const code = await new Promise((resolve) => server.child.once("exit", resolve));
      expect(code, `PORT=${value}`).toBe(1);
      expect(server.output()).toContain("PORT must be a port number from 1 to 65535");
    }
  });

  it("takes an empty HOST as unset: it listens on 127.0.0.1, not on every interface", async () => {
    const started = await startLocal({ HOST: "" });
    try {
      expect(started.server.output()).toMatch(/127\.0\.0\.1:\d+/);
      expect(started.server.output()).not.toMatch(/0\.0\.0\.0|\[::\]/);
    } finally {
      await started.server.stop();
    }
  });
});

/** The PIDs of a process's children (Linux's /proc). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe("npm start as a process", () => {
  // Stopping by PID signals that one process alone, as a process manager or `kill <pid>` does.
  it.each(["the process npm started", "npm itself"] as const)(
    "is one server process, npm's only child, that a SIGTERM to %s stops",
    { timeout: 60_000 },
    async (target) => {
      const port = await freePort();
      // Without its own coturn, whose watcher would be the server's child (test/local-relay.test.ts stops that one).
      const env = { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), TURN_LOCAL_RELAY: "off" };
      const npm = spawnLogged("npm", ["start"], env);
      try {
        await waitForHttp(`http://127.0.0.1:${port}/api/ice-servers?ttl=abc`, 30_000, npm);
        const children = childrenOf(npm.child.pid!);
        expect(children).toHaveLength(1);
        const [server] = children;
        // node itself, running server/start.ts: no shell, no tsx wrapper in between, nothing under it.
        expect(commandLine(server)).toEqual(["node", "--import", "tsx", "server/start.ts"]);
        expect(childrenOf(server)).toEqual([]);
        process.kill(target === "npm itself" ? npm.child.pid! : server, "SIGTERM");
        const deadline = Date.now() + 10_000;
        while (alive(server) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
        expect(alive(server)).toBe(false);
        const answered = await fetch(`http://127.0.0.1:${port}/api/ice-servers`).then(
          () => true,
          () => false,
        );
        expect(answered).toBe(false);
      } finally {
        await npm.stop();
      }
    },
  );
});

describe("npm start without configuration", () => {
  let server: Spawned | undefined;
  afterEach(async () => server?.stop());

  it("answers STUN-only, marked provider none, and warns loudly at start-up", async () => {
    const started = await startLocal({});
    server = started.server;
    const response = await fetch(`${started.origin}/api/ice-servers`);
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.provider).toBe("none");
    expect(body.iceServers).toEqual([{ urls: ["stun:stun.cloudflare.com:3478"] }]);
    expect(server.output()).toContain("No TURN provider is configured");
  });

  it("reads a .env file from the folder it starts in", async () => {
    const dir = mkdtempSync(join(tmpdir(), "turn-env-"));
    writeFileSync(join(dir, ".env"), "TURN_TTL=1234\n");
    const started = await startLocal({}, dir);
    server = started.server;
    const body = await (await fetch(`${started.origin}/api/ice-servers`)).json();
    expect(body.ttl).toBe(1234);
  });

  it("limits by the socket's address: forwarding headers a client could forge are ignored", async () => {
    // The readiness probe in startLocal is the first of the three.
    const started = await startLocal({ RATE_LIMIT: "3/60s" });
    server = started.server;
    const statuses: number[] = [];
    for (const forged of ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) {
      const response = await fetch(`${started.origin}/api/ice-servers`, { headers: { "x-forwarded-for": forged, "x-real-ip": forged } });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
  });

  it("names an invalid variable at start-up without printing its value", async () => {
    const started = await startLocal({ TURN_TTL: "999999999" });
    server = started.server;
    const response = await fetch(`${started.origin}/api/ice-servers`);
    expect(response.status).toBe(500);
    expect((await response.json()).error.code).toBe("invalid_config");
    expect(server.output()).toContain("TURN_TTL must be a whole number from 1 to 172800");
    expect(server.output()).not.toContain("999999999");
  });
});

/** One raw HTTP/1.1 exchange on 127.0.0.1: what a client that is not a browser can send. */
function rawExchange(port: number, bytes: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    socket.setTimeout(10_000, () => socket.destroy(new Error("no answer within 10 s")));
    socket.on("data", (chunk) => (received += chunk.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => {
      const [head, body = ""] = received.split("\r\n\r\n");
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head.toLowerCase(), body });
    });
    socket.end(bytes);
  });
}

const rawGet = (target: string, headers: string[]) => [`GET ${target} HTTP/1.1`, ...headers, "Connection: close", "", ""].join("\r\n");

describe("npm start under hostile requests", () => {
  let server: Spawned | undefined;
  let port = 0;
  let host = "";

  beforeAll(async () => {
    const started = await startLocal({ ALLOWED_HOSTS: "turn.example.lan" });
    server = started.server;
    host = new URL(started.origin).host;
    port = Number(new URL(started.origin).port);
  }, 60_000);
  afterAll(async () => server?.stop());

  const malformed: [string, number, string, () => string][] = [
    ["a Host with a space", 400, "invalid_request", () => rawGet("/api/ice-servers", ["Host: a b"])],
    ["a Host with a path", 400, "invalid_request", () => rawGet("/api/ice-servers", ["Host: 127.0.0.1/x"])],
    ["an unclosed IPv6 Host", 400, "invalid_request", () => rawGet("/api/ice-servers", ["Host: [::1"])],
    ["a Host with userinfo", 400, "invalid_request", () => rawGet("/api/ice-servers", ["Host: evil.example@127.0.0.1"])],
    ["no Host at all", 400, "invalid_request", () => rawGet("/api/ice-servers", [])],
    ["two Hosts", 400, "invalid_request", () => rawGet("/api/ice-servers", [`Host: ${host}`, "Host: evil.example"])],
    [
      "a request-target //host/…",
      400,
      "invalid_request",
      () => rawGet("//evil.example/api/ice-servers", [`Host: ${host}`, "Origin: https://evil.example"]),
    ],
    [
      "a request-target /\\host/…",
      400,
      "invalid_request",
      () => rawGet("/\\evil.example/api/ice-servers", [`Host: ${host}`, "Origin: https://evil.example"]),
    ],
    [
      "an absolute-form request-target",
      400,
      "invalid_request",
      () => rawGet("http://evil.example/api/ice-servers", [`Host: ${host}`, "Origin: http://evil.example"]),
    ],
    [
      "an asterisk-form request-target",
      400,
      "invalid_request",
      () => ["OPTIONS * HTTP/1.1", `Host: ${host}`, "Connection: close", "", ""].join("\r\n"),
    ],
    [
      "a Host this server does not serve (DNS rebinding)",
      421,
      "host_not_allowed",
      () => rawGet("/api/ice-servers", ["Host: evil.example", "Origin: http://evil.example"]),
    ],
    ["the same, on our port", 421, "host_not_allowed", () => rawGet("/api/ice-servers", [`Host: evil.example:${port}`])],
    ["not HTTP at all", 400, "invalid_request", () => "GARBAGE\r\n\r\n"],
    [
      "a header line without a colon",
      400,
      "invalid_request",
      () => `GET /api/ice-servers HTTP/1.1\r\nHost: ${host}\r\nnot a header\r\n\r\n`,
    ],
  ];

  it.each(malformed)("%s → a JSON %i %s, and the server keeps serving", async (_, status, code, bytes) => {
    const answer = await rawExchange(port, bytes());
    expect(answer.status).toBe(status);
    expect(answer.headers).toContain("content-type: application/json");
    expect(answer.headers).not.toContain("access-control-allow-origin");
    expect(JSON.parse(answer.body).error.code).toBe(code);
    const after = await rawExchange(port, rawGet("/api/ice-servers", [`Host: ${host}`]));
    expect(after.status).toBe(200);
  });

  it("answers the local names, any IP address and ALLOWED_HOSTS, on any port", async () => {
    for (const name of [
      `localhost:${port}`,
      `LOCALHOST:${port}`,
      `127.0.0.1:${port}`,
      `[::1]:${port}`,
      "192.0.2.10:8080",
      "turn.example.lan",
      `turn.example.lan:${port}`,
    ]) {
      expect((await rawExchange(port, rawGet("/api/ice-servers", [`Host: ${name}`]))).status, name).toBe(200);
    }
    expect((await rawExchange(port, rawGet("/api/ice-servers", ["Host: sub.turn.example.lan"]))).status).toBe(421);
  });

  it("treats a page on an ALLOWED_HOSTS name as its own, and no other name", async () => {
    const own = await rawExchange(port, rawGet("/api/ice-servers", ["Host: turn.example.lan", "Origin: https://turn.example.lan"]));
    expect(own.status).toBe(200);
    expect(own.headers).toContain("access-control-allow-origin: https://turn.example.lan");
    const other = await rawExchange(port, rawGet("/api/ice-servers", [`Host: ${host}`, "Origin: http://rebound.example"]));
    expect(other.status).toBe(403);
  });

  it("never printed a stack trace or a crash", () => {
    expect(server!.child.exitCode).toBeNull();
    expect(server!.output()).not.toMatch(/TypeError|Uncaught|unexpected failure/);
  });
});

describe("the local server's limits", () => {
  it("closes a client that never finishes its headers, with a JSON 408", async () => {
    // The same server npm start runs, in process, with deadlines short enough for a test.
    const server = createLocalServer({
      hosts: localHosts("127.0.0.1", 0, []),
      answer: async () => new Response("never reached", { status: 500 }),
      timeouts: { headersMs: 300, requestMs: 600, checkEveryMs: 50 },
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const answer = await rawExchangeOpen(port, "GET /api/ice-servers HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
      expect(answer.status).toBe(408);
      expect(JSON.parse(answer.body).error.code).toBe("request_timeout");
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("sets deadlines well under Node's 300 s defaults", () => {
    const server = createLocalServer({ hosts: localHosts("127.0.0.1", 0, []), answer: async () => new Response(null) });
    expect(server.headersTimeout).toBe(LOCAL_TIMEOUTS.headersMs);
    expect(server.requestTimeout).toBe(LOCAL_TIMEOUTS.requestMs);
    expect(server.keepAliveTimeout).toBe(LOCAL_TIMEOUTS.keepAliveMs);
    expect(server.timeout).toBe(LOCAL_TIMEOUTS.idleMs);
    expect(Math.max(...Object.values(LOCAL_TIMEOUTS))).toBeLessThanOrEqual(30_000);
  });
});

/** Sends `bytes` without ending the request, and waits (at most 10 s) for the server to answer and close. */
function rawExchangeOpen(port: number, bytes: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    socket.setTimeout(10_000, () => socket.destroy(new Error("the server kept the socket open")));
    socket.on("data", (chunk) => (received += chunk.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => {
      const [head, body = ""] = received.split("\r\n\r\n");
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), body });
    });
    socket.write(bytes);
  });
}
