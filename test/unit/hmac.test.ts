import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { nodeHmac } from "../../node/hmac.ts";
import { sameMac, subtleHmac, type HmacHash } from "../../shared/hmac.ts";

const NODE = { "SHA-1": "sha1", "SHA-256": "sha256" } as const;

describe("HMAC implementations", () => {
  it.each<[HmacHash, string, string | Uint8Array]>([
    ["SHA-1", "north", "1700003600:alice"],
    ["SHA-256", "ünïcödé secret", "payload"],
    ["SHA-256", "k", new Uint8Array([0, 255, 7, 128])],
    ["SHA-1", "s", ""],
  ])("%s: crypto.subtle and node:crypto give the same bytes as an independent HMAC", async (hash, secret, message) => {
    const reference = new Uint8Array(createHmac(NODE[hash], secret).update(message).digest());
    expect(new Uint8Array(await subtleHmac(hash, secret, message))).toEqual(reference);
    expect(new Uint8Array(await nodeHmac(hash, secret, message))).toEqual(reference);
  });

  it("node:crypto's answers at once, without a promise", () => {
    expect(nodeHmac("SHA-256", "k", "m")).toBeInstanceOf(Uint8Array);
  });
});

describe("sameMac", () => {
  const mac = new Uint8Array([1, 2, 3, 4]);
  it.each([
    [new Uint8Array([1, 2, 3, 4]), true],
    [new Uint8Array([1, 2, 3, 5]), false],
    [new Uint8Array([0, 2, 3, 4]), false],
    [new Uint8Array([1, 2, 3]), false],
    [new Uint8Array([1, 2, 3, 4, 0]), false],
    [new Uint8Array([]), false],
  ])("%o is %s", (other, same) => {
    expect(sameMac(mac, other)).toBe(same);
  });
});
