/**
 * The probe's client side without coturn: which URLs it speaks, and the UDP retransmission
 * (RFC 8489 section 6.2.1) against a fake server on 127.0.0.1 that drops the first request.
 * The real exchanges with coturn are in test/probe.test.ts.
 */
import { createSocket, type Socket } from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import { checkIceUrl } from "../../cli/stun/check.ts";
import { parseIceUrl } from "../../cli/stun/ice-url.ts";
import { ATTR, CLASS, decode, encode, METHOD, xorAddressValue } from "../../cli/stun/message.ts";

describe("parseIceUrl", () => {
  it("reads the scheme, host, port and transport, with the default ports", () => {
    expect(parseIceUrl("stun:stun.example.com")).toEqual({ scheme: "stun", host: "stun.example.com", port: 3478, transport: "udp" });
    expect(parseIceUrl("turn:turn.example.com:80?transport=tcp")).toEqual({
      scheme: "turn",
      host: "turn.example.com",
      port: 80,
      transport: "tcp",
    });
    expect(parseIceUrl("turn:192.0.2.1?transport=udp")).toEqual({ scheme: "turn", host: "192.0.2.1", port: 3478, transport: "udp" });
    expect(parseIceUrl("turns:turn.example.com?transport=tcp")).toEqual({
      scheme: "turns",
      host: "turn.example.com",
      port: 5349,
      transport: "tls",
    });
    expect(parseIceUrl("turn:[2001:db8::1]:3479")).toEqual({ scheme: "turn", host: "2001:db8::1", port: 3479, transport: "udp" });
  });

  it("says why it will not probe a URL", () => {
    expect(parseIceUrl("turns:turn.example.com?transport=udp")).toBe("turns: over UDP (DTLS) is not probed");
    expect(parseIceUrl("stuns:stun.example.com")).toBe("stuns: (STUN over TLS) is not probed");
    expect(parseIceUrl("https://example.com")).toBe("not a stun:, turn: or turns: URL");
    expect(parseIceUrl("turn:example.com:70000")).toBe("the port is not 1-65535");
  });
});

describe("checkIceUrl over UDP", () => {
  let server: Socket | undefined;
  afterEach(() => server?.close());

  /** A STUN server that ignores the first `drop` requests, answers garbage once, then the real answer. */
  async function fakeStun(drop: number): Promise<{ port: number; received: () => number }> {
    let received = 0;
    server = createSocket("udp4");
    server.on("message", (bytes, from) => {
      received++;
      const request = decode(bytes);
      if (!request || received <= drop) return;
      server!.send(Buffer.from("not stun at all"), from.port, from.address);
      const transactionId = request.transactionId;
      const mapped = {
        type: ATTR.xorMappedAddress,
        value: xorAddressValue({ family: "IPv4", address: from.address, port: from.port }, transactionId),
      };
      server!.send(
        encode({ method: METHOD.binding, cls: CLASS.success, transactionId, attributes: [mapped] }, { fingerprint: true }),
        from.port,
        from.address,
      );
    });
    await new Promise<void>((done) => server!.bind(0, "127.0.0.1", () => done()));
    return { port: server.address().port, received: () => received };
  }

  it("retransmits a lost Binding request and reports the mapped address", async () => {
    const fake = await fakeStun(1);
    const result = await checkIceUrl(`stun:127.0.0.1:${fake.port}`, {}, { timeoutMs: 3000 });
    expect(result).toMatchObject({ ok: true, transport: "udp", mappedAddress: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(fake.received()).toBe(2);
    // The first retransmission is due after 500 ms.
    expect(result.rttMs).toBeGreaterThanOrEqual(450);
  });

  it("gives up with timeout at the bound, having retransmitted within it only", async () => {
    const fake = await fakeStun(Infinity);
    const started = Date.now();
    const result = await checkIceUrl(`stun:127.0.0.1:${fake.port}`, {}, { timeoutMs: 1800 });
    expect(result).toMatchObject({ ok: false, error: "timeout" });
    expect(Date.now() - started).toBeLessThan(2800);
    // Sent at 0, 500 and 1500 ms (500 ms, doubling).
    expect(fake.received()).toBe(3);
  });

  it("refuses a TURN URL that came without a credential, before sending anything", async () => {
    const fake = await fakeStun(0);
    const result = await checkIceUrl(`turn:127.0.0.1:${fake.port}?transport=udp`, {}, { timeoutMs: 1000 });
    expect(result).toMatchObject({ ok: false, error: "no_credential" });
    expect(fake.received()).toBe(0);
  });
});
