/**
 * A TURN provider that enforces expiry, made of a real coturn and this layer in front of it on
 * 127.0.0.1 (UDP and TCP), for the end-to-end tests of long calls.
 *
 * coturn checks a TURN REST username's expiry only when it authenticates a new allocation: it
 * keeps the session's key, so an allocation refreshes forever under a credential that expired.
 * Providers do not (Cloudflare refuses the next Refresh). This layer refuses, with a 401 like a
 * provider's, every Refresh, CreatePermission and ChannelBind whose `<expiry>:<user>` username
 * has expired, after `graceMs` (the slack that providers' clocks effectively give). libwebrtc
 * drops a relay at once on such an error answer.
 *
 * It also keeps allocations short-lived, so that browsers refresh within a test: coturn's
 * `max-allocate-lifetime` caps the Allocate only, and it answers every Refresh with 600 s, LIFETIME
 * or not (it never grants less). So the layer lowers LIFETIME in coturn's success answers to
 * `lifetimeS` and signs them again with the long-term key (password = base64(HMAC-SHA1(secret,
 * username)), as coturn derives it). libwebrtc refreshes at half a lifetime under 2 minutes.
 *
 * And it can kill relays silently (`kill`): from then on their traffic is dropped both ways, as
 * when a relay server or the path to it dies; the browser hears nothing, not even an error.
 */
import { createHmac } from "node:crypto";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect, createServer, type Server, type Socket } from "node:net";
import {
  ATTR,
  type Attribute,
  CLASS,
  decode,
  encode,
  HEADER_BYTES,
  longTermKey,
  METHOD,
  messageLength,
  type StunMessage,
  textAttribute,
  xorAddress,
} from "../../cli/stun/message.ts";
import { freeTcpUdpPort } from "./coturn.ts";

export interface EnforcingTurnOptions {
  /** The coturn behind, with its REST API shared secret. */
  coturn: { port: number; secret: string; realm: string };
  /** The allocation lifetime the browser is told, in seconds (it refreshes at half of it). */
  lifetimeS: number;
  /** How long after a username's expiry its requests are still let through. */
  graceMs: number;
}

/** One client 5-tuple (a browser's TURN socket), with the allocation made over it. */
export interface Relay {
  id: number;
  transport: "udp" | "tcp";
  /** The browser's address:port, as the layer sees it. */
  client: string;
  /** The allocation's username, once allocated. */
  username?: string;
  /** The relayed address:port coturn gave it: what the browser reports as its relay candidate. */
  relayed?: string;
  killed: boolean;
}

export type TurnEventKind = "allocated" | "refreshed" | "refused" | "killed";

export interface TurnEvent {
  at: number;
  relay: number;
  kind: TurnEventKind;
  method?: string;
  username?: string;
  /** The lifetime the browser was told, in seconds. */
  lifetimeS?: number;
}

export interface EnforcingTurn {
  readonly port: number;
  readonly urls: { udp: string; tcp: string };
  /** Every relay seen so far. */
  relays(): Relay[];
  /** What the layer did, in order. */
  readonly events: TurnEvent[];
  /** Kills, silently, the relays with these relayed addresses (address:port); returns them. */
  kill(relayed: string[]): Relay[];
  close(): Promise<void>;
}

const METHOD_NAMES = new Map(Object.entries(METHOD).map(([name, value]) => [value as number, name]));
/** The requests that use an existing allocation, which a provider re-checks the credential of. */
const CHECKED = new Set<number>([METHOD.refresh, METHOD.createPermission, METHOD.channelBind]);
/** The answers that carry a lifetime the browser schedules its next Refresh by. */
const WITH_LIFETIME = new Set<number>([METHOD.allocate, METHOD.refresh]);

const uint32 = (value: number) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value, 0);
  return bytes;
};

/** The expiry (ms since the epoch) of a TURN REST username, `<unix seconds>:<user>`. */
function expiryOf(username: string): number | undefined {
  const match = /^(\d+):/.exec(username);
  return match ? Number(match[1]) * 1000 : undefined;
}

function refusal(request: StunMessage, realm: string): Buffer {
  const reason = Buffer.from("Unauthorized");
  const nonce = request.attributes.find((entry) => entry.type === ATTR.nonce);
  return encode(
    {
      method: request.method,
      cls: CLASS.error,
      transactionId: request.transactionId,
      attributes: [
        { type: ATTR.errorCode, value: Buffer.concat([Buffer.from([0, 0, 4, 1]), reason]) },
        { type: ATTR.realm, value: Buffer.from(realm) },
        ...(nonce ? [nonce] : []),
      ],
    },
    { fingerprint: true },
  );
}

/** `answer` with LIFETIME set to `lifetimeS`, signed again with `key`. */
function withLifetime(answer: StunMessage, lifetimeS: number, key: Buffer): Buffer {
  const attributes: Attribute[] = [];
  for (const entry of answer.attributes) {
    // Whatever follows MESSAGE-INTEGRITY is FINGERPRINT, added again by encode.
    if (entry.type === ATTR.messageIntegrity) break;
    attributes.push(entry.type === ATTR.lifetime ? { type: ATTR.lifetime, value: uint32(lifetimeS) } : entry);
  }
  const fingerprint = answer.attributes.some((entry) => entry.type === ATTR.fingerprint);
  return encode({ ...answer, attributes }, { integrityKey: key, fingerprint });
}

/**
 * Splits a TCP byte stream into STUN messages and ChannelData frames (padded to 4 bytes over TCP,
 * RFC 8656 section 12.5); returns the frames complete so far and what remains.
 */
function splitFrames(buffered: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let rest = buffered;
  for (;;) {
    if (rest.length < 4) break;
    const kind = rest[0] >> 6;
    let length: number | undefined;
    if (kind === 0) length = rest.length < HEADER_BYTES ? undefined : messageLength(rest);
    else if (kind === 1) length = 4 + ((rest.readUInt16BE(2) + 3) & ~3);
    // Neither (TURN over TCP carries nothing else): passed on as it is.
    else length = rest.length;
    if (length === undefined || rest.length < length) break;
    frames.push(rest.subarray(0, length));
    rest = rest.subarray(length);
  }
  return { frames, rest };
}

export async function startEnforcingTurn(options: EnforcingTurnOptions): Promise<EnforcingTurn> {
  const { coturn, lifetimeS, graceMs } = options;
  const port = await freeTcpUdpPort([coturn.port]);
  const relays: Relay[] = [];
  const events: TurnEvent[] = [];
  const closers: (() => void)[] = [];
  const note = (relay: Relay, kind: TurnEventKind, details: Omit<TurnEvent, "at" | "relay" | "kind"> = {}) =>
    events.push({ at: Date.now(), relay: relay.id, kind, ...details });
  const keyOf = (username: string) =>
    longTermKey(username, coturn.realm, createHmac("sha1", coturn.secret).update(username).digest("base64"));

  /** One relay's two directions: what the browser sends and what coturn answers, judged and passed on. */
  function session(transport: Relay["transport"], client: string, toServer: (bytes: Buffer) => void, toClient: (bytes: Buffer) => void) {
    const relay: Relay = { id: relays.length + 1, transport, client, killed: false };
    relays.push(relay);
    /** Transaction id (hex) → the username of a request awaiting coturn's answer. */
    const asked = new Map<string, string>();
    return {
      fromClient(bytes: Buffer) {
        if (relay.killed) return;
        const request = decode(bytes);
        const username = request && request.cls === CLASS.request ? textAttribute(request, ATTR.username) : undefined;
        if (request && username !== undefined) {
          const lifetime = request.attributes.find((entry) => entry.type === ATTR.lifetime)?.value;
          // A Refresh with LIFETIME 0 frees the relay: there is nothing to refuse it.
          const releases = request.method === METHOD.refresh && lifetime?.length === 4 && lifetime.readUInt32BE(0) === 0;
          const expiry = expiryOf(username);
          if (CHECKED.has(request.method) && !releases && expiry !== undefined && Date.now() > expiry + graceMs) {
            note(relay, "refused", { method: METHOD_NAMES.get(request.method), username });
            toClient(refusal(request, coturn.realm));
            return;
          }
          asked.set(request.transactionId.toString("hex"), username);
        }
        toServer(bytes);
      },
      fromServer(bytes: Buffer) {
        if (relay.killed) return;
        const answer = decode(bytes);
        if (answer && (answer.cls === CLASS.success || answer.cls === CLASS.error)) {
          const transaction = answer.transactionId.toString("hex");
          const username = asked.get(transaction);
          asked.delete(transaction);
          if (username !== undefined && answer.cls === CLASS.success && WITH_LIFETIME.has(answer.method)) {
            const granted = answer.attributes.find((entry) => entry.type === ATTR.lifetime)?.value;
            if (answer.method === METHOD.allocate) {
              const address = xorAddress(answer, ATTR.xorRelayedAddress);
              relay.username = username;
              relay.relayed = address && `${address.address}:${address.port}`;
            }
            let told = granted?.length === 4 ? granted.readUInt32BE(0) : undefined;
            if (told !== undefined && told > lifetimeS) {
              bytes = withLifetime(answer, lifetimeS, keyOf(username));
              told = lifetimeS;
            }
            note(relay, answer.method === METHOD.allocate ? "allocated" : "refreshed", { username, lifetimeS: told });
          }
        }
        toClient(bytes);
      },
    };
  }

  const udp: UdpSocket = createSocket("udp4");
  const udpSessions = new Map<string, ReturnType<typeof session>>();
  udp.on("message", (bytes, from) => {
    const client = `${from.address}:${from.port}`;
    let current = udpSessions.get(client);
    if (!current) {
      const upstream = createSocket("udp4");
      upstream.on("error", () => {});
      upstream.bind(0, "127.0.0.1");
      const created = session(
        "udp",
        client,
        (out) => upstream.send(out, coturn.port, "127.0.0.1"),
        (back) => udp.send(back, from.port, from.address),
      );
      upstream.on("message", (back) => created.fromServer(back));
      closers.push(() => upstream.close());
      udpSessions.set(client, created);
      current = created;
    }
    current.fromClient(bytes);
  });
  udp.on("error", () => {});
  await new Promise<void>((resolve) => udp.bind(port, "127.0.0.1", resolve));
  closers.push(() => udp.close());

  const sockets = new Set<Socket>();
  const tcp: Server = createServer((downstream) => {
    const upstream = connect({ host: "127.0.0.1", port: coturn.port });
    for (const socket of [downstream, upstream]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        sockets.delete(socket);
        downstream.destroy();
        upstream.destroy();
      });
    }
    const current = session(
      "tcp",
      `${downstream.remoteAddress}:${downstream.remotePort}`,
      (out) => upstream.write(out),
      (back) => downstream.write(back),
    );
    const pipe = (from: Socket, deliver: (frame: Buffer) => void) => {
      let buffered: Buffer = Buffer.alloc(0);
      from.on("data", (chunk: Buffer) => {
        const { frames, rest } = splitFrames(Buffer.concat([buffered, chunk]));
        buffered = rest;
        for (const frame of frames) deliver(frame);
      });
    };
    pipe(downstream, (frame) => current.fromClient(frame));
    pipe(upstream, (frame) => current.fromServer(frame));
  });
  await new Promise<void>((resolve) => tcp.listen(port, "127.0.0.1", resolve));
  closers.push(() => {
    tcp.close();
    for (const socket of sockets) socket.destroy();
  });

  return {
    port,
    urls: { udp: `turn:127.0.0.1:${port}?transport=udp`, tcp: `turn:127.0.0.1:${port}?transport=tcp` },
    relays: () => relays.map((relay) => ({ ...relay })),
    events,
    kill(relayed) {
      const killed = relays.filter((relay) => !relay.killed && relay.relayed !== undefined && relayed.includes(relay.relayed));
      for (const relay of killed) {
        relay.killed = true;
        note(relay, "killed", { username: relay.username });
      }
      return killed.map((relay) => ({ ...relay }));
    },
    async close() {
      for (const close of closers.splice(0)) {
        try {
          close();
        } catch {
          // Already closed.
        }
      }
    },
  };
}
