/**
 * Usage figures shared through the rate-limit store, over both of its protocols against a real
 * Redis: TCP (node/redis-store.ts) and Upstash's REST protocol (the fake in front of the same
 * Redis). One claimant in a lease period gets the lease; the others get what it stored.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisStore } from "../node/redis-store.ts";
import { upstashStore } from "../shared/rate-limit/limiter.ts";
import type { SharedFigures } from "../shared/spend/shared-figures.ts";
import { startFakeUpstash, type FakeUpstash } from "./fake-upstash.ts";
import { startRedis, type RedisServer } from "./helpers/redis.ts";
import { secret } from "./helpers/secrets.ts";

const UPSTASH_TOKEN = secret("upstash-figures-token-Lp0Ok9Ij8");
let redis: RedisServer;
let upstash: FakeUpstash;

beforeAll(async () => {
  redis = await startRedis();
  upstash = await startFakeUpstash({ redisUrl: redis.url, token: UPSTASH_TOKEN });
});
afterAll(async () => {
  await upstash?.close();
  await redis?.close();
});

const stores: [string, () => SharedFigures][] = [
  ["Redis over TCP", () => redisStore(redis.url).figures!],
  ["Upstash's REST protocol", () => upstashStore(upstash.url, UPSTASH_TOKEN, (url, init) => fetch(url, init), 1000).figures!],
];

describe.each(stores)("figures shared through %s", (name, figuresOf) => {
  const key = `turn-vend:usage:test:${name.replace(/\W/g, "")}`;
  const until = () => Date.now() + 2000;

  it("gives the lease to one claimant per period, and the others what it stored", async () => {
    const figures = figuresOf();
    const claims = await Promise.all(Array.from({ length: 10 }, () => figures.claim(key, 60_000, until())));
    expect(claims.filter((claim) => claim.lease)).toHaveLength(1);
    expect(claims.every((claim) => claim.stored === undefined)).toBe(true);
    await figures.put(key, JSON.stringify({ value: 42, readAt: 1 }), 60_000, until());
    expect(await figures.claim(key, 60_000, until())).toEqual({ stored: JSON.stringify({ value: 42, readAt: 1 }), lease: false });
  });

  it("offers the lease again once the period is over", async () => {
    const figures = figuresOf();
    const short = `${key}:short`;
    expect((await figures.claim(short, 200, until())).lease).toBe(true);
    expect((await figures.claim(short, 200, until())).lease).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await figures.claim(short, 200, until())).lease).toBe(true);
  });
});
