/**
 * A real coturn (Debian's `turnserver`) on 127.0.0.1 for the end-to-end tests, configured for
 * the TURN REST API shared-secret scheme, with TURN over UDP, TCP and TLS (self-signed).
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { freeTcpUdpPort, throwAwayCertificate, turnAnswers, writeCoturnConfig } from "../../server/loopback-turn.ts";
import { spawnLogged, type Spawned } from "./process.ts";

export { freeTcpUdpPort };

export const TURNSERVER = "/usr/bin/turnserver";

export interface Coturn {
  readonly secret: string;
  readonly realm: string;
  /** UDP and TCP. */
  readonly port: number;
  /** TLS (and DTLS). */
  readonly tlsPort: number;
  /** The self-signed certificate (PEM file) coturn serves TLS with, made for 127.0.0.1: a client that trusts it verifies TLS. */
  readonly cert: string;
  readonly urls: { udp: string; tcp: string; tls: string };
  /** Everything coturn logged so far. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts coturn in `dir` (a fresh temporary folder: config, certificate, database, pid file).
 * `verbose` logs each request it processes with its username, such as
 * `session …: realm <e2e.test> user <1700000000:alice>: incoming packet ALLOCATE processed, success`.
 */
export async function startCoturn(dir: string, options: { secret?: string; realm?: string; verbose?: boolean } = {}): Promise<Coturn> {
  if (!existsSync(TURNSERVER)) throw new Error(`${TURNSERVER} is missing: install Debian's coturn package (see .ci/run)`);
  const secret = options.secret ?? randomBytes(16).toString("hex");
  const realm = options.realm ?? "e2e.test";
  const port = await freeTcpUdpPort();
  const tlsPort = await freeTcpUdpPort([port]);
  // Relay ports above Linux's ephemeral range (32768-60999), in a window of their own per run.
  const minPort = 61_000 + Math.floor(Math.random() * 18) * 200;

  const certificate = throwAwayCertificate(dir, "openssl");
  if (!certificate) throw new Error("openssl could not make a certificate for coturn's TLS");
  const { config, logFile } = writeCoturnConfig({
    dir,
    port,
    tlsPort,
    certificate,
    secret,
    realm,
    extra: [`min-port=${minPort}`, `max-port=${minPort + 199}`, ...(options.verbose ? ["verbose"] : [])],
  });

  // turnserver itself, not a shell, so that stopping it stops coturn.
  const spawned: Spawned = spawnLogged(TURNSERVER, ["-c", config], { PATH: process.env.PATH }, dir);
  const log = () => spawned.output() + (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (spawned.child.exitCode !== null) throw new Error(`turnserver exited with ${spawned.child.exitCode}:\n${log()}`);
    if (await turnAnswers(port, [tlsPort])) break;
    if (Date.now() > deadline) {
      await spawned.stop();
      throw new Error(`turnserver did not answer on ${port}/${tlsPort} within 15 s:\n${log()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    secret,
    realm,
    port,
    tlsPort,
    cert: certificate.cert,
    urls: {
      udp: `turn:127.0.0.1:${port}?transport=udp`,
      tcp: `turn:127.0.0.1:${port}?transport=tcp`,
      tls: `turns:127.0.0.1:${tlsPort}?transport=tcp`,
    },
    log,
    stop: () => spawned.stop(),
  };
}
