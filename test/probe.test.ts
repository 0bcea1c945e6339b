/**
 * The probe CLI (cli/probe.ts) end to end, on 127.0.0.1 only: `npm start` vends shared-secret
 * credentials for a real coturn, and the probe, run as its own process like an operator runs it,
 * allocates over UDP, TCP and TLS. A wrong secret, a silent port, a refused port and a failing
 * endpoint each give their stable reason and exit code.
 * Needs Debian's coturn (npm test installs it, see scripts/test-prerequisites.mjs); SKIP_E2E=1 skips this file.
 */
import { execFile } from "node:child_process";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import { rootCertificates } from "node:tls";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ATTR, CLASS, decode, encode, METHOD } from "../cli/stun/message.ts";
import { freeTcpUdpPort, startCoturn, type Coturn } from "./helpers/coturn.ts";
import { freePort, startLocalServer, type Spawned } from "./helpers/process.ts";
import { secret } from "./helpers/secrets.ts";

const ROOT = resolve(import.meta.dirname, "..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
const skip = process.env.SKIP_E2E === "1";
const BEARER = secret("probe-test-bearer-token-0123456789abcdef");
const WRONG_SECRET = secret("probe-test-not-the-coturn-secret-0123");
// The bound each URL gets in these tests; a run must end well inside it plus start-up.
const TIMEOUT_MS = 2000;

interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/** The probe as its own process; a hung one (a leaked socket keeps Node alive) is killed and fails the test. */
function probe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      TSX,
      [join(ROOT, "cli/probe.ts"), ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 30_000, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        const failed = error as (Error & { code?: number; signal?: string }) | null;
        resolve({
          code: failed ? (typeof failed.code === "number" ? failed.code : null) : 0,
          signal: failed?.signal ?? null,
          stdout,
          stderr,
          elapsedMs: Date.now() - started,
        });
      },
    );
  });
}

interface Report {
  endpoint: string;
  provider: string;
  results: {
    url: string;
    transport: string;
    ok: boolean;
    rttMs: number;
    error?: string;
    relayedAddress?: string;
    mappedAddress?: string;
    released?: boolean;
  }[];
}

// What a terminal acts on: C0 controls but the newline, DEL, C1 controls, bidirectional overrides.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what must never reach the output.
const TERMINAL_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

const byTransport = (report: Report, scheme: string, transport: string) =>
  report.results.find((result) => result.url.startsWith(`${scheme}:`) && result.transport === transport)!;

describe.skipIf(skip)("turn-probe against a real coturn", () => {
  let dir: string;
  let coturn: Coturn;
  let good: { origin: string; server: Spawned };
  let wrong: { origin: string; server: Spawned };
  let dead: { origin: string; server: Spawned };
  let silentUdp: UdpSocket;
  let urls: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "turn-vend-probe-"));
    mkdirSync(join(dir, "coturn"));
    coturn = await startCoturn(join(dir, "coturn"), { secret: secret(`probe-coturn-${Date.now()}-0123456789`), verbose: true });
    urls = [`stun:127.0.0.1:${coturn.port}`, coturn.urls.udp, coturn.urls.tcp, coturn.urls.tls];
    // A UDP port held open that never answers, and a TCP port where nothing listens.
    silentUdp = createSocket("udp4");
    await new Promise<void>((done) => silentUdp.bind(0, "127.0.0.1", () => done()));
    const silentPort = silentUdp.address().port;
    const refusedPort = await freeTcpUdpPort([coturn.port, coturn.tlsPort, silentPort]);
    const vending = (secretValue: string, turnUrls: string[], extra: Record<string, string> = {}) =>
      startLocalServer({
        HOST: "127.0.0.1",
        TURN_SHARED_SECRET: secretValue,
        TURN_URLS: turnUrls.join(","),
        TURN_URL_SET: "full",
        ...extra,
      });
    [good, wrong, dead] = await Promise.all([
      vending(coturn.secret, urls, { AUTH_MODE: "bearer", AUTH_BEARER_TOKENS: BEARER }),
      vending(WRONG_SECRET, urls),
      vending(coturn.secret, [`turn:127.0.0.1:${silentPort}?transport=udp`, `turn:127.0.0.1:${refusedPort}?transport=tcp`]),
    ]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([good?.server.stop(), wrong?.server.stop(), dead?.server.stop(), coturn?.stop()]);
    silentUdp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("allocates over UDP, TCP and TLS and reports the relayed addresses, exit 0", async () => {
    const run = await probe([
      `${good.origin}/api/ice-servers`,
      "--json",
      "--ca",
      coturn.cert,
      "--timeout",
      String(TIMEOUT_MS),
      "--header",
      `Authorization: Bearer ${BEARER}`,
    ]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.endpoint).toBe(`${good.origin}/api/ice-servers`);
    expect(report.provider).toBe("shared-secret");
    expect(report.results.map((result) => result.url).sort()).toEqual([...urls].sort());
    const relayRange = /^127\.0\.0\.1:(6[1-4]\d{3})$/;
    for (const transport of ["udp", "tcp", "tls"]) {
      const result = byTransport(report, transport === "tls" ? "turns" : "turn", transport);
      expect(result, transport).toMatchObject({ ok: true, transport, released: true });
      expect(result.error, transport).toBeUndefined();
      expect(result.relayedAddress, transport).toMatch(relayRange);
      expect(result.mappedAddress, transport).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(result.rttMs, transport).toBeGreaterThanOrEqual(0);
      expect(result.rttMs, transport).toBeLessThan(TIMEOUT_MS);
    }
    expect(byTransport(report, "stun", "udp")).toMatchObject({ ok: true, mappedAddress: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    // coturn's own log: three allocations made and three released, the first thing it saw.
    expect(coturn.log().match(/incoming packet ALLOCATE processed, success/g)).toHaveLength(3);
    expect(coturn.log().match(/incoming packet REFRESH processed, success/g)).toHaveLength(3);
    // Neither the bearer token nor the TURN password is printed.
    const credential = (await (
      await fetch(`${good.origin}/api/ice-servers`, { headers: { authorization: `Bearer ${BEARER}` } })
    ).json()) as { iceServers: { credential?: string }[] };
    const password = credential.iceServers.find((server) => server.credential)!.credential!;
    expect(run.stdout).not.toContain(BEARER);
    expect(run.stdout).not.toContain(password.slice(0, 12));
  });

  it("prints a readable table by default", async () => {
    const run = await probe([
      `${good.origin}/api/ice-servers`,
      "--ca",
      coturn.cert,
      "--header",
      `Authorization: Bearer ${BEARER}`,
      "--ttl",
      "600",
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Provider: shared-secret");
    expect(run.stdout).toMatch(
      new RegExp(`turns:127\\.0\\.0\\.1:${coturn.tlsPort}\\?transport=tcp\\s+tls\\s+ok\\s+\\d+ ms\\s+relayed 127\\.0\\.0\\.1:\\d+`),
    );
    expect(run.stdout).toContain("4 of 4 URL(s) ok");
  });

  it("without trusting coturn's certificate, the TLS URL fails with tls_error and the exit code is 1", async () => {
    const run = await probe([`${good.origin}/api/ice-servers`, "--json", "--header", `Authorization: Bearer ${BEARER}`]);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as Report;
    expect(byTransport(report, "turns", "tls")).toMatchObject({ ok: false, error: "tls_error" });
    expect(byTransport(report, "turn", "udp")).toMatchObject({ ok: true });
  });

  it("--ca adds an authority to the trusted ones: NODE_EXTRA_CA_CERTS still counts beside it", async () => {
    // coturn's certificate trusted through the environment, and an unrelated authority through --ca.
    const unrelated = join(dir, "unrelated-ca.pem");
    writeFileSync(unrelated, rootCertificates[0]);
    const run = await probe(
      [`${good.origin}/api/ice-servers`, "--json", "--ca", unrelated, "--header", `Authorization: Bearer ${BEARER}`],
      { NODE_EXTRA_CA_CERTS: coturn.cert },
    );
    const report = JSON.parse(run.stdout) as Report;
    expect(byTransport(report, "turns", "tls")).toMatchObject({ ok: true, released: true });
    expect(run.code).toBe(0);
  });

  it("with a wrong secret, every TURN URL is unauthorized and the exit code is 1", async () => {
    const run = await probe([`${wrong.origin}/api/ice-servers`, "--json", "--ca", coturn.cert, "--timeout", String(TIMEOUT_MS)]);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as Report;
    const turn = report.results.filter((result) => /^turns?:/.test(result.url));
    expect(turn).toHaveLength(3);
    for (const result of turn) expect(result, result.url).toMatchObject({ ok: false, error: "unauthorized" });
    expect(turn.map((result) => result.transport).sort()).toEqual(["tcp", "tls", "udp"]);
    // STUN needs no credential, so it still works: the table says exactly which part is broken.
    expect(byTransport(report, "stun", "udp")).toMatchObject({ ok: true });
    expect(run.stdout).not.toContain(WRONG_SECRET);
  });

  it("a UDP port that never answers times out within the bound; a refused TCP port is unreachable", async () => {
    const run = await probe([`${dead.origin}/api/ice-servers`, "--json", "--timeout", String(TIMEOUT_MS)]);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as Report;
    const udp = byTransport(report, "turn", "udp");
    expect(udp).toMatchObject({ ok: false, error: "timeout" });
    expect(udp.rttMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(udp.rttMs).toBeLessThan(TIMEOUT_MS + 1000);
    expect(byTransport(report, "turn", "tcp")).toMatchObject({ ok: false, error: "unreachable" });
    // Every socket closed: the process ends by itself right after the bound (the rest is tsx starting).
    expect(run.signal).toBeNull();
    expect(run.elapsedMs).toBeLessThan(TIMEOUT_MS + 15_000);
  });

  it("exits 2 with the endpoint's error code when the endpoint refuses or is not there", async () => {
    const refused = await probe([`${good.origin}/api/ice-servers`, "--json"]);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: "unauthorized" } });

    const table = await probe([`${good.origin}/api/ice-servers`, "--header", "Authorization: Bearer not-the-token"]);
    expect(table.code).toBe(2);
    expect(table.stderr).toContain("the endpoint answered 401 unauthorized");

    const notIce = await probe([`${good.origin}/`, "--json"]);
    expect(notIce.code).toBe(2);
    expect(JSON.parse(notIce.stdout)).toMatchObject({ error: { code: "invalid_response" } });

    const nobody = await probe([`http://127.0.0.1:${await freePort()}/api/ice-servers`, "--json"]);
    expect(nobody.code).toBe(2);
    expect(JSON.parse(nobody.stdout)).toMatchObject({ error: { code: "unreachable" } });

    const usage = await probe(["not a url"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("the endpoint must be an http(s) URL");
  });
});

/**
 * An endpoint and a STUN server that lie: terminal escapes in every string they send, an error
 * message of 100,000 characters, an answer of 64 MiB streamed for as long as it is read.
 */
describe("turn-probe against a hostile endpoint", () => {
  const ESCAPES = "\u001b]0;owned\u0007\u001b[2J\u009b31m\u202e";
  const HUGE_BYTES = 64 * 1024 * 1024;
  let endpoint: Server;
  let origin = "";
  let stun: UdpSocket;
  let hugeSent = -1;

  function streamHuge(response: ServerResponse) {
    hugeSent = 0;
    response.writeHead(200, { "content-type": "application/json" });
    const chunk = Buffer.alloc(64 * 1024, "x");
    const write = () => {
      while (hugeSent < HUGE_BYTES) {
        const part = hugeSent === 0 ? Buffer.concat([Buffer.from('{"iceServers":[],"pad":"'), chunk]) : chunk;
        hugeSent += part.length;
        if (!response.write(part)) return void response.once("drain", write);
      }
      response.end('"}');
    };
    response.on("close", () => response.removeAllListeners("drain"));
    write();
  }

  beforeAll(async () => {
    stun = createSocket("udp4");
    stun.on("message", (bytes, peer) => {
      const request = decode(bytes);
      if (!request) return;
      const reason = Buffer.from(`all good${ESCAPES}`, "utf8");
      const value = Buffer.concat([Buffer.from([0, 0, 4, 20]), reason, Buffer.alloc((4 - (reason.length % 4)) % 4)]);
      const answer = encode({
        method: METHOD.binding,
        cls: CLASS.error,
        transactionId: request.transactionId,
        attributes: [{ type: ATTR.errorCode, value: value.subarray(0, 4 + reason.length) }],
      });
      stun.send(answer, peer.port, peer.address);
    });
    await new Promise<void>((done) => stun.bind(0, "127.0.0.1", () => done()));
    endpoint = createServer((request, response) => {
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { "content-type": "application/json" });
        response.end(JSON.stringify(body));
      };
      if (request.url === "/error")
        return send(403, { error: { code: `forbidden${ESCAPES}`, message: `${ESCAPES}${"A".repeat(100_000)}` } });
      if (request.url === "/urls")
        return send(200, {
          provider: `evil${ESCAPES}`,
          iceServers: [
            { urls: [`turn:host${ESCAPES}.example:3478`, `stun:127.0.0.1:${stun.address().port}`], username: "u", credential: "c" },
          ],
        });
      if (request.url === "/huge") return streamHuge(response);
      send(404, { error: { code: "not_found", message: "no" } });
    });
    await new Promise<void>((done) => endpoint.listen(0, "127.0.0.1", () => done()));
    const address = endpoint.address();
    origin = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });

  afterAll(async () => {
    stun?.close();
    endpoint?.closeAllConnections();
    await new Promise((done) => endpoint?.close(done));
  });

  for (const mode of ["table", "json"] as const) {
    const args = mode === "json" ? ["--json"] : [];

    it(`prints no terminal control from the endpoint's error, and cuts it short (${mode})`, async () => {
      const run = await probe([`${origin}/error`, ...args]);
      expect(run.code).toBe(2);
      const output = run.stdout + run.stderr;
      expect(output).not.toMatch(TERMINAL_CONTROLS);
      expect(output).toContain("\\u001b]0;owned");
      expect(output.length).toBeLessThan(2000);
    });

    it(`prints no terminal control from the ICE URLs, the provider or a STUN reason phrase (${mode})`, async () => {
      const run = await probe([`${origin}/urls`, "--timeout", "2000", ...args]);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe("");
      expect(run.stdout).not.toMatch(TERMINAL_CONTROLS);
      // Still there to read, as escapes: the URL, the provider and the reason phrase (JSON doubles the backslash).
      const shown = mode === "json" ? run.stdout.replaceAll("\\\\", "\\") : run.stdout;
      expect(shown).toContain("turn:host\\u001b]0;owned");
      expect(shown).toContain("evil\\u001b");
      expect(shown).toContain("420 all good\\u001b");
    });
  }

  it("stops reading an endpoint's answer past the server's own cap and calls it invalid, exit 2", async () => {
    const run = await probe([`${origin}/huge`, "--json"]);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: "invalid_response" } });
    // The endpoint was stopped long before the end (the rest is what sockets buffer on the way).
    expect(hugeSent).toBeGreaterThan(0);
    expect(hugeSent).toBeLessThan(HUGE_BYTES / 4);
  });
});
