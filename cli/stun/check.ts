/**
 * Checks one ICE URL the way a browser's ICE agent uses it: a Binding request for `stun:`, an
 * Allocate with the long-term credential for `turn:`/`turns:` (the unauthenticated request,
 * its 401 with REALM and NONCE, then the signed one), then a Refresh with LIFETIME 0 so the
 * allocation is released at once rather than left to expire.
 */
import { openChannel, ProbeFailure, type Channel, type Transport } from "./channel.ts";
import { parseIceUrl, type IceTarget } from "./ice-url.ts";
import {
  ATTR,
  CLASS,
  encode,
  errorCode,
  hasValidIntegrity,
  longTermKey,
  METHOD,
  newTransactionId,
  textAttribute,
  UDP_PROTOCOL,
  xorAddress,
  type Address,
  type Attribute,
  type StunMessage,
} from "./message.ts";

export interface UrlCheck {
  url: string;
  transport: Transport | "unknown";
  ok: boolean;
  /** Round trip of the request that answered (Binding, or the signed Allocate); on failure, time until it was known. */
  rttMs: number;
  /** The stable reason, when not ok. */
  error?: string;
  /** A sentence for people; never holds a credential. */
  detail?: string;
  mappedAddress?: string;
  relayedAddress?: string;
  /** TURN: whether the Refresh with LIFETIME 0 released the allocation. */
  released?: boolean;
}

export interface Credentials {
  username?: string;
  credential?: string;
}

export interface CheckOptions {
  timeoutMs: number;
  ca?: string;
}

const SOFTWARE: Attribute = { type: ATTR.software, value: Buffer.from("turn-vend probe") };

const formatAddress = (address: Address | undefined) =>
  address && (address.family === "IPv6" ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`);

/** The stable reason for a STUN error answer. */
function errorReason(message: StunMessage): ProbeFailure {
  const error = errorCode(message);
  const code = error?.code ?? 0;
  const detail = `the server answered ${code}${error?.reason ? ` ${error.reason}` : ""}`;
  if (code === 401) return new ProbeFailure("unauthorized", `${detail}: the credential was refused`);
  if (code === 403) return new ProbeFailure("forbidden", detail);
  if (code === 437) return new ProbeFailure("allocation_mismatch", detail);
  return new ProbeFailure(`stun_error_${code}`, detail);
}

async function timed(channel: Channel, bytes: Buffer, transactionId: Buffer): Promise<{ answer: StunMessage; rttMs: number }> {
  const started = performance.now();
  const answer = await channel.request(bytes, transactionId);
  return { answer, rttMs: Math.round(performance.now() - started) };
}

async function binding(channel: Channel): Promise<Partial<UrlCheck>> {
  const transactionId = newTransactionId();
  const bytes = encode({ method: METHOD.binding, cls: CLASS.request, transactionId, attributes: [SOFTWARE] }, { fingerprint: true });
  const { answer, rttMs } = await timed(channel, bytes, transactionId);
  if (answer.cls !== CLASS.success) throw errorReason(answer);
  return { rttMs, mappedAddress: formatAddress(xorAddress(answer, ATTR.xorMappedAddress)) };
}

interface Session {
  username: string;
  realm: string;
  nonce: string;
  key: Buffer;
}

/** Sends `method` signed with the session's credential; on 438 Stale Nonce, once more with the new nonce. */
async function signed(channel: Channel, method: number, attributes: Attribute[], session: Session) {
  for (let attempt = 0; ; attempt++) {
    const transactionId = newTransactionId();
    const auth: Attribute[] = [
      { type: ATTR.username, value: Buffer.from(session.username, "utf8") },
      { type: ATTR.realm, value: Buffer.from(session.realm, "utf8") },
      { type: ATTR.nonce, value: Buffer.from(session.nonce, "utf8") },
    ];
    const bytes = encode(
      { method, cls: CLASS.request, transactionId, attributes: [...attributes, SOFTWARE, ...auth] },
      { integrityKey: session.key, fingerprint: true },
    );
    const result = await timed(channel, bytes, transactionId);
    const nonce = textAttribute(result.answer, ATTR.nonce);
    if (result.answer.cls === CLASS.error && errorCode(result.answer)?.code === 438 && nonce && attempt === 0) {
      session.nonce = nonce;
      continue;
    }
    return result;
  }
}

async function allocate(channel: Channel, credentials: Credentials): Promise<Partial<UrlCheck>> {
  if (!credentials.username || credentials.credential === undefined) {
    throw new ProbeFailure("no_credential", "the answer gave this TURN URL no username and credential");
  }
  const requested: Attribute = { type: ATTR.requestedTransport, value: Buffer.from([UDP_PROTOCOL, 0, 0, 0]) };
  const transactionId = newTransactionId();
  const challenge = await channel.request(
    encode({ method: METHOD.allocate, cls: CLASS.request, transactionId, attributes: [requested, SOFTWARE] }, { fingerprint: true }),
    transactionId,
  );
  const realm = textAttribute(challenge, ATTR.realm);
  const nonce = textAttribute(challenge, ATTR.nonce);
  if (challenge.cls !== CLASS.error || errorCode(challenge)?.code !== 401 || realm === undefined || nonce === undefined) {
    // A server that allocates without asking for a credential would relay for anyone.
    if (challenge.cls === CLASS.success) throw new ProbeFailure("no_challenge", "the server allocated without asking for a credential");
    throw errorReason(challenge);
  }
  const session: Session = {
    username: credentials.username,
    realm,
    nonce,
    key: longTermKey(credentials.username, realm, credentials.credential),
  };
  const { answer, rttMs } = await signed(channel, METHOD.allocate, [requested], session);
  if (answer.cls !== CLASS.success) throw errorReason(answer);
  // A success that does not carry our key's integrity did not come from the server we authenticated to.
  if (!hasValidIntegrity(answer, session.key))
    throw new ProbeFailure("bad_integrity", "the allocation's answer failed its MESSAGE-INTEGRITY check");
  const result: Partial<UrlCheck> = {
    rttMs,
    relayedAddress: formatAddress(xorAddress(answer, ATTR.xorRelayedAddress)),
    mappedAddress: formatAddress(xorAddress(answer, ATTR.xorMappedAddress)),
  };
  try {
    const release = await signed(channel, METHOD.refresh, [{ type: ATTR.lifetime, value: Buffer.alloc(4) }], session);
    result.released = release.answer.cls === CLASS.success;
  } catch {
    result.released = false;
  }
  return result;
}

/** Checks `url` within `options.timeoutMs`, all sockets closed when it resolves; never rejects. */
export async function checkIceUrl(url: string, credentials: Credentials, options: CheckOptions): Promise<UrlCheck> {
  const started = performance.now();
  const target: IceTarget | string = parseIceUrl(url);
  if (typeof target === "string") return { url, transport: "unknown", ok: false, rttMs: 0, error: "unsupported_url", detail: target };
  let channel: Channel | undefined;
  try {
    channel = await openChannel({
      transport: target.transport,
      host: target.host,
      port: target.port,
      deadline: Date.now() + options.timeoutMs,
      ca: options.ca,
    });
    const result = target.scheme === "stun" ? await binding(channel) : await allocate(channel, credentials);
    return { url, transport: target.transport, ok: true, rttMs: result.rttMs ?? 0, ...result };
  } catch (error) {
    const failure = error instanceof ProbeFailure ? error : new ProbeFailure("error", `${(error as Error)?.name ?? "error"}`);
    return {
      url,
      transport: target.transport,
      ok: false,
      rttMs: Math.round(performance.now() - started),
      error: failure.reason,
      detail: failure.message,
    };
  } finally {
    channel?.close();
  }
}
