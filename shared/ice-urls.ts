import * as v from "valibot";

/** What the browser needs to reach one STUN or TURN server, as RTCIceServer has it. */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/**
 * An RTCIceServer as providers send it: `urls` one string or several (made an array here),
 * and a username and credential where the server needs them. Unknown fields are dropped.
 */
export const IceServerSchema = v.pipe(
  v.object({
    urls: v.pipe(
      v.union([v.string(), v.array(v.string())]),
      v.transform((urls) => (typeof urls === "string" ? [urls] : urls)),
      v.minLength(1),
    ),
    username: v.optional(v.string()),
    credential: v.optional(v.string()),
  }),
  v.transform(
    ({ urls, username, credential }): IceServer => ({
      urls,
      ...(username !== undefined ? { username } : {}),
      ...(credential !== undefined ? { credential } : {}),
    }),
  ),
);

export type IceScheme = "stun" | "stuns" | "turn" | "turns";

export interface IceUrl {
  scheme: IceScheme;
  host: string;
  port: number;
  transport?: "udp" | "tcp";
}

const DEFAULT_PORT: Record<IceScheme, number> = { stun: 3478, turn: 3478, stuns: 5349, turns: 5349 };

// RFC 7064 / RFC 7065: scheme ":" host [":" port] ["?transport=" ("udp" / "tcp")], host may be a bracketed IPv6.
const ICE_URL = /^(stuns?|turns?):(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?(?:\?transport=(udp|tcp))?$/i;

/** Parses a STUN/TURN URL, or returns undefined when a browser would reject it. */
export function parseIceUrl(url: string): IceUrl | undefined {
  const match = ICE_URL.exec(url.trim());
  if (!match) return undefined;
  const scheme = match[1].toLowerCase() as IceScheme;
  const port = match[3] === undefined ? DEFAULT_PORT[scheme] : Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  const transport = match[4]?.toLowerCase() as IceUrl["transport"];
  return { scheme, host: match[2].toLowerCase(), port, ...(transport ? { transport } : {}) };
}

export interface FilterOptions {
  /** Browsers refuse port 53 for ICE, so it is dropped unless asked for. */
  keepPort53: boolean;
}

export interface FilterResult {
  servers: IceServer[];
  /** URLs that no browser would accept, dropped so that RTCPeerConnection does not throw. */
  malformed: string[];
}

/**
 * Drops the URLs a browser cannot use, and any server left with none; keeps the others trimmed.
 * Port 53 is matched on the parsed port, so :5349 and :530 are kept.
 */
export function filterIceServers(servers: readonly IceServer[], options: FilterOptions): FilterResult {
  const malformed: string[] = [];
  const kept: IceServer[] = [];
  for (const server of servers) {
    const urls: string[] = [];
    for (const url of server.urls) {
      // Handed out as it was checked: a URL with spaces around it is not one a browser must parse.
      const trimmed = url.trim();
      const parsed = parseIceUrl(trimmed);
      if (!parsed) malformed.push(url);
      else if (options.keepPort53 || parsed.port !== 53) urls.push(trimmed);
    }
    if (urls.length > 0) kept.push({ ...server, urls });
  }
  return { servers: kept, malformed };
}

type Slot = "stun" | "turn-udp" | "turn-tcp" | "turns";

function slotOf(url: IceUrl): Slot {
  if (url.scheme === "stun" || url.scheme === "stuns") return "stun";
  if (url.scheme === "turns") return "turns";
  return url.transport === "tcp" ? "turn-tcp" : "turn-udp";
}

// Strict firewalls let web ports through, so TCP and TLS prefer 443, then 80.
function preference(slot: Slot, url: IceUrl): number {
  if (slot !== "turn-tcp" && slot !== "turns") return 0;
  return url.port === 443 ? 0 : url.port === 80 ? 1 : 2;
}

/**
 * At most four URLs, one per transport present: STUN, TURN over UDP, TURN over
 * TCP, and TURNS. Firefox warns that five or more slow discovery down; one of
 * each still gets through a strict firewall. Expects URLs that parse.
 */
export function compactIceServers(servers: readonly IceServer[]): IceServer[] {
  const best = new Map<Slot, { server: number; url: string; rank: number }>();
  servers.forEach((server, index) => {
    for (const url of server.urls) {
      const parsed = parseIceUrl(url);
      if (!parsed) continue;
      const slot = slotOf(parsed);
      const rank = preference(slot, parsed);
      const current = best.get(slot);
      if (!current || rank < current.rank) best.set(slot, { server: index, url, rank });
    }
  });
  const picks = [...best.values()];
  return servers
    .map((server, index) => ({
      ...server,
      urls: server.urls.filter((url) => picks.some((pick) => pick.server === index && pick.url === url)),
    }))
    .filter((server) => server.urls.length > 0);
}
