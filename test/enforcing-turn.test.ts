/**
 * The end-to-end tests' enforcing layer (test/helpers/enforcing-turn.ts) on its own, in front of
 * a real coturn, over UDP and TCP, spoken to with the probe's STUN code: the browsers in
 * test/e2e.test.ts only show its effects, and only over UDP.
 * Needs Debian's coturn; SKIP_E2E=1 skips this file.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Channel, openChannel, type Transport } from "../cli/stun/channel.ts";
import {
  ATTR,
  type Attribute,
  attribute,
  CLASS,
  encode,
  errorCode,
  hasValidFingerprint,
  hasValidIntegrity,
  longTermKey,
  METHOD,
  newTransactionId,
  textAttribute,
  UDP_PROTOCOL,
  xorAddress,
  xorAddressValue,
} from "../cli/stun/message.ts";
import { type Coturn, startCoturn } from "./helpers/coturn.ts";
import { type EnforcingTurn, startEnforcingTurn } from "./helpers/enforcing-turn.ts";

const LIFETIME_S = 4;
const GRACE_MS = 1_000;
const sleepUntil = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
const uint32 = (value: number) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value, 0);
  return bytes;
};

describe.skipIf(process.env.SKIP_E2E === "1")("the enforcing TURN layer in front of coturn", () => {
  let dir: string;
  let coturn: Coturn;
  let layer: EnforcingTurn;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "turn-enforcing-"));
    coturn = await startCoturn(dir);
    layer = await startEnforcingTurn({ coturn, lifetimeS: LIFETIME_S, graceMs: GRACE_MS });
  });

  afterAll(async () => {
    await layer?.close();
    await coturn?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** An allocation through the layer under a REST username that expires `ttlS` seconds from now. */
  async function allocate(transport: Transport, ttlS: number) {
    const channel: Channel = await openChannel({ transport, host: "127.0.0.1", port: layer.port, deadline: Date.now() + 20_000 });
    const expiry = Math.floor(Date.now() / 1000) + ttlS;
    const username = `${expiry}:enforcing-${transport}`;
    const key = longTermKey(username, coturn.realm, createHmac("sha1", coturn.secret).update(username).digest("base64"));
    const transportAttribute = { type: ATTR.requestedTransport, value: Buffer.from([UDP_PROTOCOL, 0, 0, 0]) };
    const id = newTransactionId();
    const challenge = await channel.request(
      encode({ method: METHOD.allocate, cls: CLASS.request, transactionId: id, attributes: [transportAttribute] }),
      id,
    );
    const auth: Attribute[] = [
      { type: ATTR.username, value: Buffer.from(username) },
      { type: ATTR.realm, value: Buffer.from(coturn.realm) },
      { type: ATTR.nonce, value: attribute(challenge, ATTR.nonce)! },
    ];
    /**
     * Sends a signed request of `method` with `attributes` (a function of the transaction id, which
     * XOR-PEER-ADDRESS is masked with); resolves with the answer, or rejects on no answer within `ms`.
     */
    const ask = async (method: number, attributes: Attribute[] | ((transactionId: Buffer) => Attribute[]), ms = 3_000) => {
      const transactionId = newTransactionId();
      const own = typeof attributes === "function" ? attributes(transactionId) : attributes;
      const request = encode(
        { method, cls: CLASS.request, transactionId, attributes: [...own, ...auth] },
        { integrityKey: key, fingerprint: true },
      );
      return Promise.race([
        channel.request(request, transactionId),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no answer")), ms)),
      ]);
    };
    const allocated = await ask(METHOD.allocate, [transportAttribute]);
    const relayed = xorAddress(allocated, ATTR.xorRelayedAddress);
    return { channel, expiryMs: expiry * 1000, key, ask, allocated, relayed: relayed && `${relayed.address}:${relayed.port}` };
  }

  const peer = (transactionId: Buffer) => ({
    type: ATTR.xorPeerAddress,
    value: xorAddressValue({ family: "IPv4", address: "127.0.0.1", port: 9 }, transactionId),
  });

  it.each(["udp", "tcp"] as const)(
    "over %s: lowers coturn's lifetimes, signed again; lets an expired credential through for the grace, then answers 401",
    async (transport) => {
      const call = await allocate(transport, 2);
      try {
        // coturn grants 3600 s to the Allocate and 600 s to every Refresh; the client is told less, in a valid answer.
        for (const answer of [call.allocated, await call.ask(METHOD.refresh, [])]) {
          expect(answer.cls).toBe(CLASS.success);
          expect(attribute(answer, ATTR.lifetime)?.readUInt32BE(0)).toBe(LIFETIME_S);
          expect(hasValidIntegrity(answer, call.key)).toBe(true);
          expect(hasValidFingerprint(answer)).toBe(true);
        }
        expect(layer.relays().find((relay) => relay.relayed === call.relayed)).toMatchObject({ transport, killed: false });

        // Expired, within the grace: coturn answers.
        await sleepUntil(call.expiryMs + 200);
        expect((await call.ask(METHOD.refresh, [])).cls).toBe(CLASS.success);

        // Past the grace: every request on the allocation is refused, as a provider refuses it.
        await sleepUntil(call.expiryMs + GRACE_MS + 200);
        const requests: [number, (transactionId: Buffer) => Attribute[]][] = [
          [METHOD.refresh, () => []],
          [METHOD.refresh, () => [{ type: ATTR.lifetime, value: uint32(600) }]],
          [METHOD.createPermission, (id) => [peer(id)]],
          [METHOD.channelBind, (id) => [{ type: ATTR.channelNumber, value: Buffer.from([0x40, 0x00, 0, 0]) }, peer(id)]],
        ];
        for (const [method, attributes] of requests) {
          const answer = await call.ask(method, attributes);
          expect(answer.cls).toBe(CLASS.error);
          expect(errorCode(answer)?.code).toBe(401);
          expect(textAttribute(answer, ATTR.realm)).toBe(coturn.realm);
          expect(attribute(answer, ATTR.nonce)).toBeDefined();
          expect(hasValidFingerprint(answer)).toBe(true);
        }
        // A Refresh with LIFETIME 0 frees the relay: it goes through.
        expect((await call.ask(METHOD.refresh, [{ type: ATTR.lifetime, value: uint32(0) }])).cls).toBe(CLASS.success);
      } finally {
        call.channel.close();
      }
    },
    20_000,
  );

  it.each(["udp", "tcp"] as const)(
    "over %s: a killed relay goes silent both ways",
    async (transport) => {
      const call = await allocate(transport, 60);
      try {
        expect((await call.ask(METHOD.refresh, [])).cls).toBe(CLASS.success);
        expect(layer.kill([call.relayed!]).map((relay) => relay.relayed)).toEqual([call.relayed]);
        await expect(call.ask(METHOD.refresh, [], 1_500)).rejects.toThrow("no answer");
        expect(layer.events.filter((event) => event.kind === "killed").map((event) => event.username)).toContain(
          `${call.expiryMs / 1000}:enforcing-${transport}`,
        );
      } finally {
        call.channel.close();
      }
    },
    20_000,
  );
});
