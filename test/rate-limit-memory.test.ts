/**
 * The in-memory limiter through the Netlify and Vercel functions in-process:
 * IPv6 callers counted per /64, and a flood of new addresses that can neither
 * reset a live window nor make a request cost more than a table look-up. The
 * shared-secret provider computes its credentials, so a flood needs no upstream.
 * One file of its own: the flood fills this instance's table for a minute.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import vercel from "../vercel/ice-servers.ts";
import netlify from "../functions/ice-servers.mts";
import { unset, useProcessEnv } from "./helpers/env.ts";
import { secret } from "./helpers/secrets.ts";

const SHARED = secret("memory-limit-shared-Secret-Zx4Cv6Bn8M");
const NAMES = [
  "RATE_LIMIT",
  "RATE_LIMIT_FAIL",
  "REDIS_URL",
  "UPSTASH_REDIS_REST_URL",
  "UPSTASH_REDIS_REST_TOKEN",
  "AUTH_MODE",
  "ALLOWED_ORIGINS",
  "CLOUDFLARE_TURN_KEY_ID",
  "CLOUDFLARE_TURN_KEY_API_TOKEN",
  "METERED_APP",
  "METERED_SECRET_KEY",
  "METERED_API_KEY",
  "TURN_PROVIDERS",
];
const URL = "https://example.test/api/ice-servers";
// The memory store's table size (shared/access/admit.ts).
const TABLE = 10_000;

let restoreEnv: (() => void) | undefined;
afterEach(() => {
  restoreEnv?.();
  vi.restoreAllMocks();
});

function useEnv(extra: Record<string, string>): void {
  restoreEnv = useProcessEnv({ ...unset(NAMES), TURN_SHARED_SECRET: SHARED, TURN_URLS: "turn:turn.example.test:3478", ...extra });
}

interface Seen {
  status: number;
  code?: string;
  remaining: string | null;
}

async function seen(response: Response): Promise<Seen> {
  const text = await response.text();
  expect(text).not.toContain(SHARED);
  return {
    status: response.status,
    code: response.status === 200 ? undefined : JSON.parse(text).error.code,
    remaining: response.headers.get("ratelimit-remaining"),
  };
}

const viaNetlify = async (ip: string) => seen(await netlify(new Request(URL), { ip } as never));
const viaVercel = async (ip: string) => seen(await vercel.fetch(new Request(URL, { headers: { "x-real-ip": ip } })));

// Each function is an instance of its own, with its own table, as on the hosts.
describe.each([
  ["Netlify", viaNetlify],
  ["Vercel", viaVercel],
])("IPv6 callers of the %s function", (_, via) => {
  it("are counted per /64, whichever address in it they pick and however it is written", async () => {
    useEnv({ RATE_LIMIT: "3/60s" });
    const answers = [
      await via("2001:db8:aa:1::1"),
      await via("2001:0db8:00aa:0001:ffff:ffff:ffff:fffe"),
      await via("2001:db8:aa:1:1234::9"),
      await via("2001:db8:aa:1::2"),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
    expect(answers.map((a) => a.remaining)).toEqual(["2", "1", "0", "0"]);
    // The next /64 has its own allowance.
    expect(await via("2001:db8:aa:2::1")).toMatchObject({ status: 200, remaining: "2" });
  });

  it("while IPv4, also carried in IPv6, is counted per address", async () => {
    useEnv({ RATE_LIMIT: "2/60s" });
    expect(await via("192.0.2.10")).toMatchObject({ status: 200, remaining: "1" });
    expect(await via("::ffff:192.0.2.10")).toMatchObject({ status: 200, remaining: "0" });
    expect(await via("::ffff:c000:20a")).toMatchObject({ status: 429 });
    expect(await via("192.0.2.11")).toMatchObject({ status: 200, remaining: "1" });
  });
});

describe("a flood of new addresses", () => {
  it("never resets a live window, and a full table answers new callers by RATE_LIMIT_FAIL", { timeout: 60_000 }, async () => {
    useEnv({ RATE_LIMIT: "3/60s", RATE_LIMIT_FAIL: "closed" });
    expect(await viaNetlify("198.51.100.1")).toMatchObject({ status: 200, remaining: "2" });

    const flood: Record<string, number> = {};
    for (let i = 0; i < TABLE + 1000; i += 1) {
      const answer = await viaNetlify(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      const kind = answer.code ?? String(answer.status);
      flood[kind] = (flood[kind] ?? 0) + 1;
    }
    // The table holds the first caller and the addresses that came before it was full
    // (and the few of the tests above); every later one is a 503, and nothing else.
    expect(Object.keys(flood).sort()).toEqual(["200", "rate_limit_unavailable"]);
    expect(flood[200]).toBeLessThanOrEqual(TABLE - 1);
    expect(flood[200]).toBeGreaterThan(TABLE - 10);

    // The first caller's window outlived the flood: its count goes on, to 429.
    expect(await viaNetlify("198.51.100.1")).toMatchObject({ status: 200, remaining: "1" });
    expect(await viaNetlify("198.51.100.1")).toMatchObject({ status: 200, remaining: "0" });
    expect(await viaNetlify("198.51.100.1")).toMatchObject({ status: 429 });

    // Failing open, new callers are let through uncounted, and the log says so once.
    restoreEnv?.();
    useEnv({ RATE_LIMIT: "3/60s", RATE_LIMIT_FAIL: "open" });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    for (let i = 0; i < 50; i += 1) expect(await viaNetlify(`172.16.0.${i}`)).toMatchObject({ status: 200, remaining: null });
    expect(warn.mock.calls.flat().filter((line) => String(line).includes("RATE_LIMIT_FAIL=open")).length).toBeLessThanOrEqual(1);
    expect(await viaNetlify("198.51.100.1")).toMatchObject({ status: 429 });
  });
});
