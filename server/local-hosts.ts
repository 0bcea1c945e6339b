import { isIP } from "node:net";
import { networkInterfaces } from "node:os";
import { readList, type Env } from "../shared/env.ts";
import { ServiceError } from "../shared/errors.ts";

/** Which Host names `npm start` answers, and the origins its own pages have. */
export interface LocalHosts {
  /** The Host header's host[:port], normalised, if this server answers to it; throws a 4xx otherwise. */
  check(hostHeader: string | undefined): string;
  /** Origins of pages this server serves; compared by host, so each also stands for https. */
  readonly ownOrigins: readonly string[];
}

const LOOPBACK = ["localhost", "127.0.0.1", "[::1]"];
const ANY_ADDRESS = new Set(["0.0.0.0", "::", "[::]"]);
const NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;

const bracketed = (address: string) => (isIP(address) === 6 ? `[${address}]` : address);

/** ALLOWED_HOSTS: extra names npm start answers to, such as a LAN name or a tunnel's domain. */
export function allowedHosts(env: Env): string[] {
  return readList(env, "ALLOWED_HOSTS").map((entry, index) => {
    const name = entry.toLowerCase();
    if (!NAME.test(name) && isIP(name) === 0) {
      throw new ServiceError("invalid_config", `ALLOWED_HOSTS entry ${index + 1} is not a host name such as turn.example.lan`);
    }
    return bracketed(name);
  });
}

/** The addresses a wildcard listener (HOST=0.0.0.0) is reached at. */
function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => !entry.scopeid)
    .map((entry) => bracketed(entry.address));
}

/**
 * Names come from the listening address and ALLOWED_HOSTS, never from a request. Any IP
 * address is answered too: DNS rebinding, which this stops, needs a name that an attacker's
 * page shares with this server, and an address literal is no such name.
 */
export function localHosts(listenHost: string, port: number, extra: readonly string[]): LocalHosts {
  const listening = ANY_ADDRESS.has(listenHost) ? interfaceAddresses() : [bracketed(listenHost.toLowerCase())];
  const names = new Set([...LOOPBACK, ...listening, ...extra]);
  const ownOrigins = [...new Set([...LOOPBACK, ...listening].map((name) => `http://${name}:${port}`))];
  // An extra name may sit behind a proxy on the default port, or be reached on ours.
  for (const name of extra) ownOrigins.push(`http://${name}`, `http://${name}:${port}`);
  return {
    ownOrigins,
    check(hostHeader) {
      let parsed: URL;
      try {
        if (!hostHeader || /[\s/\\?#@]/.test(hostHeader)) throw new Error();
        parsed = new URL(`http://${hostHeader}`);
      } catch {
        throw new ServiceError("invalid_request", "the Host header is missing or not a host name");
      }
      const hostname = parsed.hostname;
      if (!names.has(hostname) && isIP(hostname.replace(/^\[|\]$/g, "")) === 0) {
        throw new ServiceError("host_not_allowed", "this server does not answer to that Host name: add it to ALLOWED_HOSTS");
      }
      return parsed.host;
    },
  };
}
