import * as v from "valibot";
import { secureUrl, integerBetween, readVar, type Env } from "../env.ts";
import { ServiceError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { CLAIM_SCRIPT, claimOf, leaseKeyOf, type SharedFigures } from "../spend/shared-figures.ts";
import { fetchWithin, parseReply, withinTime, type Fetch, type UpstreamReply, type UpstreamRequest } from "../upstream/upstream.ts";

export interface RateLimitRule {
  limit: number;
  windowMs: number;
}

/** One counted request: how many this window holds now, and when the window ends. */
export interface Hit {
  count: number;
  resetInMs: number;
}

/**
 * Where counts are kept: per instance in memory, or shared through Redis. Memory
 * answers at once; a promise is a remote store, given RATE_LIMIT_TIMEOUT_MS.
 */
export interface RateLimitStore {
  /**
   * `until` (as Date.now()) is when the request stops waiting: a remote store sends
   * nothing after it, and what it sent before must not count if it runs after it.
   */
  hit(key: string, windowMs: number, until?: number): Hit | Promise<Hit>;
  /** Present where the store is shared between instances: usage figures go through it too. */
  figures?: SharedFigures;
}

export type StoreChoice = { kind: "memory" } | { kind: "redis"; url: string } | { kind: "upstash"; url: string; token: string };

export interface RateLimitConfig {
  /** undefined when RATE_LIMIT=off. */
  rule?: RateLimitRule;
  failOpen: boolean;
  timeoutMs: number;
  store: StoreChoice;
  /** Used on runtimes without TCP (the edge) when REDIS_URL is also set. */
  fallbackStore?: StoreChoice;
}

export const DEFAULT_RATE_LIMIT = "60/60s";
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const RULE = /^(\d{1,7})\s*\/\s*(\d{1,7})\s*(ms|s|m|h)?$/i;

function parseRule(text: string): RateLimitRule | undefined {
  if (text.toLowerCase() === "off") return undefined;
  const match = RULE.exec(text);
  const limit = match ? Number(match[1]) : 0;
  const windowMs = match ? Number(match[2]) * UNIT_MS[(match[3] ?? "s").toLowerCase()] : 0;
  if (limit < 1 || windowMs < 1000) {
    throw new ServiceError("invalid_config", "RATE_LIMIT must read like 20/60s (requests per window of s, m or h, at least 1 s), or off");
  }
  return { limit, windowMs };
}

const Timeout = integerBetween("RATE_LIMIT_TIMEOUT_MS", 1, 10_000);
const UpstashUrl = secureUrl("UPSTASH_REDIS_REST_URL");

export function configureRateLimit(env: Env): RateLimitConfig {
  const rule = parseRule(readVar(env, "RATE_LIMIT") ?? DEFAULT_RATE_LIMIT);
  const fail = (readVar(env, "RATE_LIMIT_FAIL") ?? "open").toLowerCase();
  if (fail !== "open" && fail !== "closed") throw new ServiceError("invalid_config", "RATE_LIMIT_FAIL must be open or closed");
  const timeout = v.safeParse(Timeout, readVar(env, "RATE_LIMIT_TIMEOUT_MS") ?? "300");
  if (!timeout.success) throw new ServiceError("invalid_config", timeout.issues[0].message);

  let upstash: StoreChoice | undefined;
  const upstashUrl = readVar(env, "UPSTASH_REDIS_REST_URL");
  const upstashToken = readVar(env, "UPSTASH_REDIS_REST_TOKEN");
  if (upstashUrl || upstashToken) {
    if (!upstashUrl) throw new ServiceError("not_configured", "UPSTASH_REDIS_REST_URL is not set, but UPSTASH_REDIS_REST_TOKEN is");
    if (!upstashToken) throw new ServiceError("not_configured", "UPSTASH_REDIS_REST_TOKEN is not set, but UPSTASH_REDIS_REST_URL is");
    const url = v.safeParse(UpstashUrl, upstashUrl);
    if (!url.success) throw new ServiceError("invalid_config", url.issues[0].message);
    upstash = { kind: "upstash", url: url.output, token: upstashToken };
  }
  const redisUrl = readVar(env, "REDIS_URL");
  if (redisUrl && !/^rediss?:\/\//i.test(redisUrl))
    throw new ServiceError("invalid_config", "REDIS_URL must start with redis:// or rediss://");
  const store: StoreChoice = redisUrl ? { kind: "redis", url: redisUrl } : (upstash ?? { kind: "memory" });
  return { rule, failOpen: fail === "open", timeoutMs: timeout.output, store, fallbackStore: redisUrl ? upstash : undefined };
}

/**
 * What the memory store throws for a new key while every window it holds is live:
 * it never forgets a live window (that would hand its caller a fresh allowance), so
 * the request is let through or refused by RATE_LIMIT_FAIL. `report` is set at most
 * once a minute, so a flood of new keys does not flood the log too.
 */
export class RateLimitTableFull extends Error {
  constructor(readonly report: boolean) {
    super("every window in the rate-limit table is live");
    this.name = "RateLimitTableFull";
  }
}

// Ended windows reclaimed per new key: more than one, so the table drains faster than it fills.
const RECLAIM_PER_KEY = 2;

/** Fixed windows per key, for one instance only: counts are not shared between instances. */
export function memoryStore(maxKeys = 10_000): RateLimitStore {
  // A window is (re)inserted when it starts and windows share one length, so the
  // first entry ends first: ended windows are reclaimed from the front, in O(1) per
  // new key and never by a scan. (After RATE_LIMIT changes length, an ended window
  // can sit behind a live one until that one ends: the table only looks fuller.)
  const windows = new Map<string, { count: number; endsAt: number }>();
  let reportedAt = -Infinity;
  // Made once: capturing a stack per refused key would cost more than the look-up itself.
  const full = { quiet: new RateLimitTableFull(false), report: new RateLimitTableFull(true) };
  return {
    hit(key, windowMs) {
      const now = Date.now();
      let entry = windows.get(key);
      if (entry && entry.endsAt <= now) {
        windows.delete(key);
        entry = undefined;
      }
      if (!entry) {
        for (let i = 0; i < RECLAIM_PER_KEY; i += 1) {
          const first = windows.entries().next().value;
          if (!first || first[1].endsAt > now) break;
          windows.delete(first[0]);
        }
        if (windows.size >= maxKeys) {
          if (now - reportedAt < 60_000) throw full.quiet;
          reportedAt = now;
          throw full.report;
        }
        entry = { count: 0, endsAt: now + windowMs };
        windows.set(key, entry);
      }
      entry.count += 1;
      return { count: entry.count, resetInMs: entry.endsAt - now };
    },
  };
}

/** One round trip: count the request and start the window on the first, atomically. */
export const FIXED_WINDOW_SCRIPT = `local c = redis.call('INCR', KEYS[1])
local t = redis.call('PTTL', KEYS[1])
if c == 1 or t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); t = tonumber(ARGV[1]) end
return {c, t}`;

export const KEY_PREFIX = "turn-vend:rate:";

/** Upstash's REST protocol: a POST of the command as a JSON array, answered {"result": …}. */
export function prepareUpstashHit(url: string, token: string, key: string, windowMs: number): UpstreamRequest {
  return {
    url,
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(["EVAL", FIXED_WINDOW_SCRIPT, "1", `${KEY_PREFIX}${key}`, String(windowMs)]),
  };
}

const HitReply = v.object({ result: v.tuple([v.number(), v.number()]) });

export function processUpstashHit(reply: UpstreamReply): Hit {
  const [count, resetInMs] = parseReply(reply, HitReply, "Upstash").result;
  return { count, resetInMs };
}

const CommandReply = v.object({ result: v.unknown() });

export function upstashStore(url: string, token: string, fetch: Fetch, timeoutMs: number): RateLimitStore {
  const command = async (args: string[]) => {
    const request = { url, method: "POST" as const, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" } };
    const reply = await fetchWithin(fetch, { ...request, body: JSON.stringify(args) }, timeoutMs, "Upstash");
    return parseReply(reply, CommandReply, "Upstash").result;
  };
  return {
    async hit(key, windowMs) {
      return processUpstashHit(await fetchWithin(fetch, prepareUpstashHit(url, token, key, windowMs), timeoutMs, "Upstash"));
    },
    figures: {
      async claim(key, leaseMs) {
        return claimOf(await command(["EVAL", CLAIM_SCRIPT, "2", key, leaseKeyOf(key), String(leaseMs)]));
      },
      async put(key, value, ttlMs) {
        await command(["SET", key, value, "PX", String(ttlMs)]);
      },
    },
  };
}

export interface Allowance {
  headers: Record<string, string>;
}

/**
 * Counts one request for `key` and lets it through, or throws 429 rate_limited.
 * A store that fails or is slow costs at most RATE_LIMIT_TIMEOUT_MS, then the
 * request goes through (fail open, logged) or gets 503 (fail closed).
 */
export async function checkRateLimit(
  key: string,
  config: RateLimitConfig & { rule: RateLimitRule },
  store: RateLimitStore,
  log: Pick<Logger, "warn">,
): Promise<Allowance> {
  let hit: Hit;
  try {
    const answer = store.hit(key, config.rule.windowMs, Date.now() + config.timeoutMs);
    // A timer per request only where there is something to wait for.
    hit =
      answer instanceof Promise
        ? await withinTime(answer, config.timeoutMs, () => new Error(`no answer within ${config.timeoutMs} ms`))
        : answer;
  } catch (error) {
    // The store's own message can hold its URL and password: only the kind is logged.
    const kind = (error as Error)?.name ?? "Error";
    if (config.failOpen) {
      if (!(error instanceof RateLimitTableFull)) {
        log.warn(`rate-limit store unavailable (${kind}): letting the request through, as RATE_LIMIT_FAIL=open`, {
          event: "rate_limit_store_unavailable",
        });
      } else if (error.report) {
        log.warn(
          "rate-limit table full of live windows: letting new callers through uncounted, as RATE_LIMIT_FAIL=open (logged at most once a minute)",
          {
            event: "rate_limit_table_full",
          },
        );
      }
      return { headers: {} };
    }
    throw new ServiceError("rate_limit_unavailable", "the rate limiter is unavailable; try again shortly");
  }
  if (hit.count > config.rule.limit) throw rateLimited(config.rule, hit.resetInMs);
  return { headers: rateLimitHeaders(config.rule, hit) };
}

function rateLimitHeaders(rule: RateLimitRule, hit: Hit): Record<string, string> {
  return {
    "ratelimit-limit": String(rule.limit),
    "ratelimit-remaining": String(Math.max(0, rule.limit - hit.count)),
    "ratelimit-reset": String(Math.max(1, Math.ceil(hit.resetInMs / 1000))),
  };
}

/** 429 rate_limited, saying when the allowance renews. */
export function rateLimited(rule: RateLimitRule, resetInMs: number): ServiceError {
  const headers = rateLimitHeaders(rule, { count: rule.limit + 1, resetInMs });
  return new ServiceError("rate_limited", `too many requests: at most ${rule.limit} per ${rule.windowMs / 1000} s`, {
    ...headers,
    "retry-after": headers["ratelimit-reset"],
  });
}
