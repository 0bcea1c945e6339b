/**
 * The STUN codec against RFC 5769's test vectors (section 2), which RFC 8489 keeps: the
 * sample request and responses with MESSAGE-INTEGRITY and FINGERPRINT, and the request with a
 * long-term credential, rebuilt byte for byte by the encoder.
 */
import { describe, expect, it } from "vitest";
import {
  ATTR,
  CLASS,
  decode,
  encode,
  errorCode,
  hasValidFingerprint,
  hasValidIntegrity,
  longTermKey,
  METHOD,
  textAttribute,
  xorAddress,
  xorAddressValue,
} from "../../cli/stun/message.ts";

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");

// RFC 5769 2.1: short-term password "VOkJxbRl1RmTxUk/WvJxBt", username "evtj:h6vY".
const SAMPLE_REQUEST = hex(`
  000100582112a442b7e7a701bc34d686fa87dfae802200105354554e20746573
  7420636c69656e74002400046e0001ff80290008932ff9b151263b3600060009
  6576746a3a6836765920202000080014 9aeaa70cbfd8cb56781ef2b5b2d3f249
  c1b571a280280004e57a3bcf`);
// RFC 5769 2.2: mapped address 192.0.2.1 port 32853.
const SAMPLE_IPV4_RESPONSE = hex(`
  0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563
  746f7220002000080001a147e112a643000800142b91f599fd9e90c38c7489f9
  2af9ba53f06be7d780280004c07d4c96`);
// RFC 5769 2.3: mapped address 2001:db8:1234:5678:11:2233:4455:6677 port 32853.
const SAMPLE_IPV6_RESPONSE = hex(`
  010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563
  746f7220002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014
  a382954e4be67bf11784c97c8292c275bfe3ed4180280004c8fb0b4c`);
// RFC 5769 2.4: long-term credential, username マトリックス, password TheMatrIX (after SASLprep),
// realm example.org, nonce f//499k954d6OL34oL9FSTvy64sA.
const SAMPLE_LONG_TERM_REQUEST = hex(`
  000100602112a442 78ad3433c6ad72c029da412e 00060012e3839ee383
  88e383aae38383e382afe382b90000 0015001c662f2f343939 6b3935346436
  4f4c33346f4c394653547679363473 4100140 00b6578616d706c652e6f7267
  00 00080014f67024656dd64a3e02b8e0712e85c9a28ca89666`);
const SHORT_TERM_KEY = Buffer.from("VOkJxbRl1RmTxUk/WvJxBt", "utf8");

describe("STUN messages (RFC 5769 test vectors)", () => {
  it("decodes the sample request and checks its MESSAGE-INTEGRITY and FINGERPRINT", () => {
    const message = decode(SAMPLE_REQUEST)!;
    expect(message).toMatchObject({ method: METHOD.binding, cls: CLASS.request });
    expect(message.transactionId.toString("hex")).toBe("b7e7a701bc34d686fa87dfae");
    expect(textAttribute(message, ATTR.software)).toBe("STUN test client");
    expect(textAttribute(message, ATTR.username)).toBe("evtj:h6vY");
    expect(hasValidIntegrity(message, SHORT_TERM_KEY)).toBe(true);
    expect(hasValidIntegrity(message, Buffer.from("wrong"))).toBe(false);
    expect(hasValidFingerprint(message)).toBe(true);
  });

  it("decodes the IPv4 and IPv6 sample responses' XOR-MAPPED-ADDRESS", () => {
    const v4 = decode(SAMPLE_IPV4_RESPONSE)!;
    expect(v4).toMatchObject({ method: METHOD.binding, cls: CLASS.success });
    expect(xorAddress(v4, ATTR.xorMappedAddress)).toEqual({ family: "IPv4", address: "192.0.2.1", port: 32853 });
    expect(hasValidIntegrity(v4, SHORT_TERM_KEY)).toBe(true);
    expect(hasValidFingerprint(v4)).toBe(true);

    const v6 = decode(SAMPLE_IPV6_RESPONSE)!;
    expect(xorAddress(v6, ATTR.xorMappedAddress)).toEqual({ family: "IPv6", address: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853 });
    expect(hasValidIntegrity(v6, SHORT_TERM_KEY)).toBe(true);
    expect(hasValidFingerprint(v6)).toBe(true);
  });

  it("rebuilds the long-term credential sample request byte for byte", () => {
    const username = "\u30de\u30c8\u30ea\u30c3\u30af\u30b9";
    const encoded = encode(
      {
        method: METHOD.binding,
        cls: CLASS.request,
        transactionId: SAMPLE_LONG_TERM_REQUEST.subarray(8, 20),
        attributes: [
          { type: ATTR.username, value: Buffer.from(username, "utf8") },
          { type: ATTR.nonce, value: Buffer.from("f//499k954d6OL34oL9FSTvy64sA") },
          { type: ATTR.realm, value: Buffer.from("example.org") },
        ],
      },
      { integrityKey: longTermKey(username, "example.org", "TheMatrIX") },
    );
    expect(encoded.toString("hex")).toBe(SAMPLE_LONG_TERM_REQUEST.toString("hex"));
    expect(hasValidIntegrity(decode(encoded)!, longTermKey(username, "example.org", "TheMatrIX"))).toBe(true);
  });

  it("round-trips what it encodes: FINGERPRINT, ERROR-CODE, XOR addresses", () => {
    const transactionId = Buffer.alloc(12, 7);
    const error = Buffer.from([0, 0, 4, 37, ...Buffer.from("Allocation Mismatch")]);
    const encoded = encode(
      {
        method: METHOD.allocate,
        cls: CLASS.error,
        transactionId,
        attributes: [
          { type: ATTR.errorCode, value: error },
          { type: ATTR.xorRelayedAddress, value: xorAddressValue({ family: "IPv4", address: "203.0.113.9", port: 61001 }, transactionId) },
          { type: ATTR.xorMappedAddress, value: xorAddressValue({ family: "IPv6", address: "2001:db8::1", port: 5 }, transactionId) },
        ],
      },
      { fingerprint: true },
    );
    const message = decode(encoded)!;
    expect(message).toMatchObject({ method: METHOD.allocate, cls: CLASS.error });
    expect(errorCode(message)).toEqual({ code: 437, reason: "Allocation Mismatch" });
    expect(xorAddress(message, ATTR.xorRelayedAddress)).toEqual({ family: "IPv4", address: "203.0.113.9", port: 61001 });
    expect(xorAddress(message, ATTR.xorMappedAddress)).toEqual({ family: "IPv6", address: "2001:db8::1", port: 5 });
    expect(hasValidFingerprint(message)).toBe(true);
    encoded[encoded.length - 1] ^= 1;
    expect(hasValidFingerprint(decode(encoded)!)).toBe(false);
  });

  it("refuses what is not a whole STUN message", () => {
    expect(decode(Buffer.from("GET / HTTP/1.1\r\n\r\n----"))).toBeUndefined();
    expect(decode(SAMPLE_REQUEST.subarray(0, 40))).toBeUndefined();
    const badLength = Buffer.from(SAMPLE_REQUEST);
    badLength.writeUInt16BE(0x0fff, 2);
    expect(decode(badLength)).toBeUndefined();
  });
});
