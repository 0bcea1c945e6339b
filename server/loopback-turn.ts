/**
 * A coturn on 127.0.0.1 for the TURN REST API shared-secret scheme: its configuration,
 * certificate, ports and readiness checks. npm start's own coturn (server/local-relay.ts) and
 * the tests' coturn (test/helpers/coturn.ts) are made the same way.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { freePort } from "../scripts/lib/process.ts";

export interface CoturnSetup {
  /** A fresh folder of its own (mode 0700): configuration, certificate, database, pid file, log. */
  dir: string;
  /** UDP and TCP. */
  port: number;
  secret: string;
  realm: string;
  /** TLS (and DTLS), with this certificate; neither without. */
  tlsPort?: number;
  certificate?: { cert: string; key: string };
  /** More lines of coturn's configuration. */
  extra?: readonly string[];
}

/** Writes coturn's configuration into the folder, readable by this user alone (it holds the secret). */
export function writeCoturnConfig(setup: CoturnSetup): { config: string; logFile: string } {
  const { dir, certificate } = setup;
  const config = join(dir, "turnserver.conf");
  const logFile = join(dir, "turnserver.log");
  const tls =
    certificate && setup.tlsPort !== undefined
      ? [`tls-listening-port=${setup.tlsPort}`, `cert=${certificate.cert}`, `pkey=${certificate.key}`]
      : ["no-tls", "no-dtls"];
  writeFileSync(
    config,
    [
      "listening-ip=127.0.0.1",
      "relay-ip=127.0.0.1",
      `listening-port=${setup.port}`,
      // Both of a page's peers are on this machine: without this, coturn refuses their permissions (403).
      "allow-loopback-peers",
      "use-auth-secret",
      `static-auth-secret=${setup.secret}`,
      `realm=${setup.realm}`,
      "fingerprint",
      "no-cli",
      "no-rfc5780",
      "no-multicast-peers",
      ...tls,
      `userdb=${join(dir, "turndb")}`,
      `pidfile=${join(dir, "turnserver.pid")}`,
      `log-file=${logFile}`,
      "simple-log",
      "no-stdout-log",
      ...(setup.extra ?? []),
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return { config, logFile };
}

/** A self-signed certificate for 127.0.0.1 made with `openssl` (its path), or undefined when it fails. */
export function throwAwayCertificate(dir: string, openssl: string): { cert: string; key: string } | undefined {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  try {
    execFileSync(
      openssl,
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "7"].concat([
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ]),
      { stdio: "ignore", timeout: 20_000 },
    );
    return { cert, key };
  } catch {
    return undefined;
  }
}

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

/**
 * A port free for both TCP and UDP. coturn binds with SO_REUSEPORT, so a stale instance would
 * silently share a port with a new one: a plain bind (without it) is refused instead, which is
 * the check made here, for each protocol.
 */
export async function freeTcpUdpPort(avoid: number[] = []): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort();
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
