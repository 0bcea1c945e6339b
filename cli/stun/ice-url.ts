/** What a `stun:`, `turn:` or `turns:` URL (RFC 7064, RFC 7065) says to connect to. */
import type { Transport } from "./channel.ts";

export interface IceTarget {
  scheme: "stun" | "turn" | "turns";
  host: string;
  port: number;
  transport: Transport;
}

const ICE_URL = /^(stuns?|turns?):(\[[0-9a-fA-F:.]+\]|[^:?\s[\]]+)(?::(\d{1,5}))?(?:\?transport=(udp|tcp))?$/i;

/** The target, or a sentence saying why there is none. */
export function parseIceUrl(url: string): IceTarget | string {
  const match = ICE_URL.exec(url.trim());
  if (!match) return "not a stun:, turn: or turns: URL";
  const scheme = match[1].toLowerCase();
  if (scheme === "stuns") return "stuns: (STUN over TLS) is not probed";
  const secure = scheme === "turns";
  const asked = match[4]?.toLowerCase() as "udp" | "tcp" | undefined;
  if (secure && asked === "udp") return "turns: over UDP (DTLS) is not probed";
  if (scheme === "stun" && asked === "tcp") return "stun: over TCP is not probed";
  const port = match[3] ? Number(match[3]) : secure ? 5349 : 3478;
  if (port < 1 || port > 65535) return "the port is not 1-65535";
  const transport: Transport = secure ? "tls" : asked === "tcp" ? "tcp" : "udp";
  return { scheme: scheme as IceTarget["scheme"], host: match[2].replace(/^\[(.*)\]$/, "$1"), port, transport };
}
