/**
 * The spend guard: whether a provider may still be asked this month, from its own usage figure,
 * and whether a verified user is still under the monthly quota. A usage API that fails, hangs or
 * answers nonsense never fails or delays an answer past a short wait: the last figure stands for
 * MAX_FIGURE_AGE_MS, then the provider counts as under its limit, and the operator is told.
 */
import type { RequestContext } from "../context.ts";
import { ServiceError } from "../errors.ts";
import type { AnyProvider } from "../providers/index.ts";
import type { UsageSource } from "../providers/provider.ts";
import { fetchWithin, type Deadline, type UpstreamReply, type UpstreamRequest } from "../upstream/upstream.ts";
import { formatBytes } from "./amount.ts";
import { monthOf, secondsToNextMonth } from "./period.ts";
import { FIGURE_KEY_PREFIX } from "./shared-figures.ts";
import type { Reading } from "./usage-book.ts";

/** How long a figure stands while newer readings fail; past it the provider counts as under its limit. */
export const MAX_FIGURE_AGE_MS = 15 * 60_000;
/** The most a request waits for a first figure; after that it goes on without one. */
export const FIRST_READ_WAIT_MS = 1000;
/** Where a share of its limit is worth telling the operator about. */
export const NEAR_SHARE = 0.8;
const NEAR_EVERY_MS = 3_600_000;
const REACHED_EVERY_MS = 60_000;
const UNAVAILABLE_EVERY_MS = 60_000;
// How often, and how many times, a read asks the store again for a figure another instance is reading.
const SHARED_POLL_MS = 100;
const SHARED_POLLS = 10;

/** The serving provider's figure, for the request's JSON log line. */
export interface UsageNote {
  provider: string;
  /** Bytes relayed this month (or billing cycle), as last read; absent when no usable figure is held. */
  bytes?: number;
  limit: number;
  /** Seconds since the figure was read. */
  ageS?: number;
}

/** Users at or over the quota. One not listed relayed less (or is past the largest page, and counted as under). */
interface UserTable {
  over: string[];
}

/** One reading from the provider, shared with the fleet through the store where there is one. */
async function readThrough<T>(
  context: RequestContext,
  key: string,
  label: string,
  request: UpstreamRequest,
  parse: (reply: UpstreamReply) => T,
): Promise<Reading<T> | undefined> {
  const { config } = context;
  const figures = context.store?.()?.figures;
  const storeKey = `${FIGURE_KEY_PREFIX}${key}`;
  const until = () => Date.now() + config.rateLimit.timeoutMs;
  if (figures) {
    try {
      // Another instance holding the lease with nothing stored yet is reading now: its figure is a moment away.
      for (let attempt = 1; ; attempt += 1) {
        const claim = await figures.claim(storeKey, config.spend.refreshMs, until());
        const stored = claim.stored === undefined ? undefined : storedReading<T>(claim.stored);
        if (claim.lease) break;
        if (stored || attempt >= SHARED_POLLS) return stored;
        await new Promise((resolve) => setTimeout(resolve, SHARED_POLL_MS));
      }
    } catch {
      // The store is down or slow: this instance reads for itself, once a period, as without one.
    }
  }
  const reply = await fetchWithin(context.fetch, request, config.upstreamTimeoutMs, label);
  const reading = { value: parse(reply), readAt: context.now };
  figures?.put(storeKey, JSON.stringify(reading), MAX_FIGURE_AGE_MS, until()).catch(() => {});
  return reading;
}

/** A figure from the store, when it has the shape one has (the store is shared, and could hold anything). */
function storedReading<T>(text: string): Reading<T> | undefined {
  try {
    const reading = JSON.parse(text) as Reading<T>;
    return typeof reading?.readAt === "number" && reading.value !== undefined ? reading : undefined;
  } catch {
    return undefined;
  }
}

function waitFor(deadline: Deadline | undefined): number {
  return Math.min(FIRST_READ_WAIT_MS, deadline ? deadline.remainingMs() / 2 : FIRST_READ_WAIT_MS);
}

/**
 * The reading when one stands; else undefined, and when the last read failed the operator is told
 * (at most once a minute) that the provider counts as under its limit meanwhile.
 */
function usable<T>(context: RequestContext, found: { reading?: Reading<T>; failed: boolean }, what: string, provider: string) {
  if (found.reading) return found.reading;
  if (found.failed && context.reports.due(`unavailable:${what}`, UNAVAILABLE_EVERY_MS, context.now)) {
    context.log.warn(
      `${what} could not be read, and no figure from the last ${MAX_FIGURE_AGE_MS / 60_000} minutes is held: counting it as under its limit`,
      { event: "usage_unavailable", provider },
    );
  }
  return undefined;
}

/** When a provider over its limit may be under it again: the next month, or (a billing cycle we cannot see) the next reading. */
function retryAfterS(source: UsageSource, context: RequestContext): number {
  return source.period === "month" ? secondsToNextMonth(context.now) : Math.ceil(context.config.spend.refreshMs / 1000);
}

/**
 * Whether `provider` may be asked: a ServiceError spend_limit_reached to skip it with, or the
 * figure for the log line. Providers without a limit pass at once.
 */
export async function checkSpend(
  context: RequestContext,
  provider: AnyProvider,
  deadline?: Deadline,
): Promise<{ refusal?: ServiceError; usage?: UsageNote }> {
  const limit = context.config.spend.limits.get(provider.id);
  if (!limit) return {};
  const { source } = limit;
  // By calendar month even for a billing cycle: a new month costs one read sooner, nothing more.
  const key = `${provider.id}:${source.scope}:${monthOf(context.now).key}`;
  const reading = await context.usage.lookup<number>(key, {
    now: context.now,
    refreshMs: context.config.spend.refreshMs,
    maxAgeMs: MAX_FIGURE_AGE_MS,
    waitMs: waitFor(deadline),
    read: () => readThrough(context, key, `${provider.label}'s usage API`, source.request(context.now), source.bytes),
    keepAlive: context.waitUntil,
  });
  const figure = usable(context, reading, `${provider.label}'s usage`, provider.id);
  if (!figure) return { usage: { provider: provider.id, limit: limit.bytes } };
  const usage = {
    provider: provider.id,
    bytes: figure.value,
    limit: limit.bytes,
    ageS: Math.max(0, Math.round((context.now - figure.readAt) / 1000)),
  };
  const share = `${formatBytes(figure.value)} of ${formatBytes(limit.bytes)} this ${source.period === "month" ? "month" : "billing cycle"}`;
  if (figure.value >= limit.bytes) {
    if (context.reports.due(`reached:${provider.id}`, REACHED_EVERY_MS, context.now)) {
      context.log.error(`OPERATOR: ${provider.label} is at its TURN_MONTHLY_LIMITS limit (${share}): it is skipped`, {
        event: "spend_limit_reached",
        provider: provider.id,
      });
    }
    const refusal = new ServiceError("spend_limit_reached", "every TURN provider has reached its monthly spending limit", {
      "retry-after": String(retryAfterS(source, context)),
    });
    return { refusal, usage };
  }
  if (figure.value >= NEAR_SHARE * limit.bytes && context.reports.due(`near:${provider.id}`, NEAR_EVERY_MS, context.now)) {
    context.log.warn(`${provider.label} is near its TURN_MONTHLY_LIMITS limit (${share})`, {
      event: "spend_limit_near",
      provider: provider.id,
    });
  }
  return { usage };
}

/** Refuses a verified user at or over TURN_USER_MONTHLY_LIMIT with 429 user_quota_exceeded, before any credential is made. */
export async function checkUserQuota(context: RequestContext): Promise<void> {
  const quota = context.config.spend.user;
  const user = context.caller.user;
  if (!quota || user === undefined) return;
  const { source } = quota;
  const users = source.users!;
  const key = `cloudflare-users:${source.scope}:${quota.bytes}:${monthOf(context.now).key}`;
  const reading = await context.usage.lookup<UserTable>(key, {
    now: context.now,
    refreshMs: context.config.spend.refreshMs,
    maxAgeMs: MAX_FIGURE_AGE_MS,
    waitMs: FIRST_READ_WAIT_MS,
    keepAlive: context.waitUntil,
    read: () =>
      readThrough(context, key, "Cloudflare's analytics", users.request(context.now), (reply) => {
        // Only who is over is kept (and shared): a table of every user would be large and is not needed.
        const { byUser } = users.bytes(reply);
        return { over: [...byUser].filter(([, bytes]) => bytes >= quota.bytes).map(([name]) => name) };
      }),
  });
  const table = usable(context, reading, "Cloudflare's per-user usage", "cloudflare");
  if (!table) return;
  if (table.value.over.includes(user)) {
    throw new ServiceError("user_quota_exceeded", "this user has used this month's TURN relay quota", {
      "retry-after": String(secondsToNextMonth(context.now)),
    });
  }
}
