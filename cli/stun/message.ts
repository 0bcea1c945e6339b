/**
 * STUN messages (RFC 8489) with the TURN methods and attributes (RFC 8656) a probe needs:
 * encoding with MESSAGE-INTEGRITY (HMAC-SHA1) and FINGERPRINT, decoding, and checking both.
 * Written here because no npm library both is maintained and speaks TURN's long-term
 * credential (docs/probe.md says which were weighed); RFC 5769's vectors test it.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";
import { crc32 } from "node:zlib";

export const MAGIC_COOKIE = 0x2112a442;
export const HEADER_BYTES = 20;

export const METHOD = { binding: 0x001, allocate: 0x003, refresh: 0x004, createPermission: 0x008, channelBind: 0x009 } as const;
export const CLASS = { request: 0b00, indication: 0b01, success: 0b10, error: 0b11 } as const;
export type StunClass = (typeof CLASS)[keyof typeof CLASS];

export const ATTR = {
  username: 0x0006,
  messageIntegrity: 0x0008,
  errorCode: 0x0009,
  channelNumber: 0x000c,
  lifetime: 0x000d,
  xorPeerAddress: 0x0012,
  realm: 0x0014,
  nonce: 0x0015,
  xorRelayedAddress: 0x0016,
  requestedTransport: 0x0019,
  xorMappedAddress: 0x0020,
  software: 0x8022,
  fingerprint: 0x8028,
} as const;

/** REQUESTED-TRANSPORT's protocol number for a UDP relay, the only one RFC 8656 defines. */
export const UDP_PROTOCOL = 17;
const FINGERPRINT_XOR = 0x5354554e;

export interface Attribute {
  type: number;
  value: Buffer;
}

export interface StunMessage {
  method: number;
  cls: StunClass;
  transactionId: Buffer;
  attributes: Attribute[];
  /** The bytes as received, for checking MESSAGE-INTEGRITY and FINGERPRINT. */
  raw: Buffer;
}

export interface Address {
  family: "IPv4" | "IPv6";
  address: string;
  port: number;
}

export const newTransactionId = () => randomBytes(12);

/** The 14-bit message type: the method's bits around the two class bits (RFC 8489 section 5). */
function messageType(method: number, cls: StunClass): number {
  return ((method & 0xf80) << 2) | ((method & 0x070) << 1) | (method & 0x00f) | ((cls & 0b10) << 7) | ((cls & 0b01) << 4);
}

function splitType(type: number): { method: number; cls: StunClass } {
  const method = ((type >> 2) & 0xf80) | ((type >> 1) & 0x070) | (type & 0x00f);
  const cls = (((type >> 7) & 0b10) | ((type >> 4) & 0b01)) as StunClass;
  return { method, cls };
}

const padded = (length: number) => (length + 3) & ~3;

function attributeBytes({ type, value }: Attribute): Buffer {
  const bytes = Buffer.alloc(4 + padded(value.length));
  bytes.writeUInt16BE(type, 0);
  bytes.writeUInt16BE(value.length, 2);
  value.copy(bytes, 4);
  return bytes;
}

function header(type: number, length: number, transactionId: Buffer): Buffer {
  const bytes = Buffer.alloc(HEADER_BYTES);
  bytes.writeUInt16BE(type, 0);
  bytes.writeUInt16BE(length, 2);
  bytes.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(bytes, 8);
  return bytes;
}

export interface EncodeOptions {
  /** Adds MESSAGE-INTEGRITY keyed with this (see longTermKey). */
  integrityKey?: Buffer;
  fingerprint?: boolean;
}

export function encode(
  message: { method: number; cls: StunClass; transactionId: Buffer; attributes: Attribute[] },
  options: EncodeOptions = {},
): Buffer {
  const type = messageType(message.method, message.cls);
  let body = Buffer.concat(message.attributes.map(attributeBytes));
  if (options.integrityKey) {
    // The HMAC covers the header with a length that already counts MESSAGE-INTEGRITY itself.
    const covered = Buffer.concat([header(type, body.length + 24, message.transactionId), body]);
    const mac = createHmac("sha1", options.integrityKey).update(covered).digest();
    body = Buffer.concat([body, attributeBytes({ type: ATTR.messageIntegrity, value: mac })]);
  }
  if (options.fingerprint) {
    const covered = Buffer.concat([header(type, body.length + 8, message.transactionId), body]);
    const value = Buffer.alloc(4);
    value.writeUInt32BE((crc32(covered) ^ FINGERPRINT_XOR) >>> 0, 0);
    body = Buffer.concat([body, attributeBytes({ type: ATTR.fingerprint, value })]);
  }
  return Buffer.concat([header(type, body.length, message.transactionId), body]);
}

/** Total length of the STUN message starting `bytes`, once its header is in; undefined before. */
export function messageLength(bytes: Buffer): number | undefined {
  return bytes.length < HEADER_BYTES ? undefined : HEADER_BYTES + bytes.readUInt16BE(2);
}

/** A STUN message, or undefined for anything else (another protocol, a truncated or malformed message). */
export function decode(bytes: Buffer): StunMessage | undefined {
  if (bytes.length < HEADER_BYTES || (bytes[0] & 0xc0) !== 0 || bytes.readUInt32BE(4) !== MAGIC_COOKIE) return undefined;
  const length = bytes.readUInt16BE(2);
  if (length % 4 !== 0 || bytes.length !== HEADER_BYTES + length) return undefined;
  const attributes: Attribute[] = [];
  for (let offset = HEADER_BYTES; offset < bytes.length; ) {
    if (offset + 4 > bytes.length) return undefined;
    const type = bytes.readUInt16BE(offset);
    const size = bytes.readUInt16BE(offset + 2);
    if (offset + 4 + size > bytes.length) return undefined;
    attributes.push({ type, value: bytes.subarray(offset + 4, offset + 4 + size) });
    offset += 4 + padded(size);
  }
  return { ...splitType(bytes.readUInt16BE(0)), transactionId: bytes.subarray(8, 20), attributes, raw: bytes };
}

export const attribute = (message: StunMessage, type: number) => message.attributes.find((entry) => entry.type === type)?.value;

export const textAttribute = (message: StunMessage, type: number) => attribute(message, type)?.toString("utf8");

/** Where in `raw` the attribute `type` starts, or -1. */
function offsetOf(message: StunMessage, type: number): number {
  let offset = HEADER_BYTES;
  for (const entry of message.attributes) {
    if (entry.type === type) return offset;
    offset += 4 + padded(entry.value.length);
  }
  return -1;
}

/** True when MESSAGE-INTEGRITY is present and matches `key`. */
export function hasValidIntegrity(message: StunMessage, key: Buffer): boolean {
  const offset = offsetOf(message, ATTR.messageIntegrity);
  if (offset < 0) return false;
  const covered = Buffer.from(message.raw.subarray(0, offset));
  covered.writeUInt16BE(offset + 24 - HEADER_BYTES, 2);
  const expected = createHmac("sha1", key).update(covered).digest();
  const actual = message.raw.subarray(offset + 4, offset + 24);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** True when FINGERPRINT is present, last, and matches. */
export function hasValidFingerprint(message: StunMessage): boolean {
  const offset = offsetOf(message, ATTR.fingerprint);
  if (offset < 0 || offset + 8 !== message.raw.length) return false;
  const expected = (crc32(message.raw.subarray(0, offset)) ^ FINGERPRINT_XOR) >>> 0;
  return message.raw.readUInt32BE(offset + 4) === expected;
}

/**
 * The long-term credential's key: MD5(username ":" realm ":" password). The password is used
 * as given: SASLprep changes nothing in the ASCII that TURN REST credentials are made of.
 */
export const longTermKey = (username: string, realm: string, password: string) =>
  createHash("md5").update(`${username}:${realm}:${password}`, "utf8").digest();

/** ERROR-CODE as a number (class * 100 + number), with its reason phrase. */
export function errorCode(message: StunMessage): { code: number; reason: string } | undefined {
  const value = attribute(message, ATTR.errorCode);
  if (!value || value.length < 4) return undefined;
  return { code: (value[2] & 0x07) * 100 + value[3], reason: value.subarray(4).toString("utf8") };
}

/** An XOR-MAPPED-ADDRESS or XOR-RELAYED-ADDRESS value, decoded. */
export function xorAddress(message: StunMessage, type: number): Address | undefined {
  const value = attribute(message, type);
  if (!value || value.length < 8) return undefined;
  const port = value.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16);
  const mask = Buffer.concat([header(0, 0, message.transactionId).subarray(4, 8), message.transactionId]);
  if (value[1] === 0x01) {
    const bytes = value.subarray(4, 8).map((byte, index) => byte ^ mask[index]);
    return { family: "IPv4", address: [...bytes].join("."), port };
  }
  if (value[1] === 0x02 && value.length >= 20) {
    const bytes = Buffer.from(value.subarray(4, 20).map((byte, index) => byte ^ mask[index]));
    const groups = Array.from({ length: 8 }, (_, index) => bytes.readUInt16BE(index * 2).toString(16));
    // The URL parser writes an IPv6 address in its canonical, compressed form.
    return { family: "IPv6", address: new URL(`http://[${groups.join(":")}]`).hostname.slice(1, -1), port };
  }
  return undefined;
}

/** An XOR-*-ADDRESS value for `address`: the inverse of xorAddress, for tests and fake servers. */
export function xorAddressValue(address: Address, transactionId: Buffer): Buffer {
  const mask = Buffer.concat([header(0, 0, transactionId).subarray(4, 8), transactionId]);
  const ip =
    address.family === "IPv4" && isIPv4(address.address)
      ? Buffer.from(address.address.split(".").map(Number))
      : isIPv6(address.address)
        ? ipv6Bytes(address.address)
        : undefined;
  if (!ip) throw new TypeError("not an IP address");
  const value = Buffer.alloc(4 + ip.length);
  value[1] = ip.length === 4 ? 0x01 : 0x02;
  value.writeUInt16BE(address.port ^ (MAGIC_COOKIE >>> 16), 2);
  for (const [index, byte] of ip.entries()) value[4 + index] = byte ^ mask[index];
  return value;
}

function ipv6Bytes(text: string): Buffer {
  const [before, after = ""] = text.split("::");
  const head = before ? before.split(":") : [];
  const tail = after ? after.split(":") : [];
  const groups = [...head, ...new Array<string>(8 - head.length - tail.length).fill("0"), ...tail];
  const bytes = Buffer.alloc(16);
  for (const [index, group] of groups.entries()) bytes.writeUInt16BE(parseInt(group, 16), index * 2);
  return bytes;
}
