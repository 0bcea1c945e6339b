/**
 * The rate-limit store over Redis's own TCP protocol, for the Node runtimes only
 * (the edge has no TCP sockets; it uses Upstash's REST protocol instead). One
 * client per URL per instance; entry points connect it while the instance starts
 * (connectRedisStore), so the first request does not pay for loading it.
 *
 * No command outlives the request that sent it. While Redis is unreachable nothing
 * is queued (no offline queue, and a request waiting for the connection never sends
 * once it has given up). A command already written cannot be called back, since
 * Redis reads what it was sent even from a closed connection (a frozen server, a
 * network partition): so each carries its deadline, in Redis's clock, and one that
 * runs later counts nothing.
 */
import type { RateLimitStore } from "../shared/rate-limit/limiter.ts";
import { KEY_PREFIX } from "../shared/rate-limit/limiter.ts";
import { CLAIM_SCRIPT, claimOf, leaseKeyOf } from "../shared/spend/shared-figures.ts";

type Reply = unknown;
type Client = {
  isReady: boolean;
  connect(): Promise<unknown>;
  withAbortSignal(signal: AbortSignal): Client;
  sendCommand(args: string[]): Promise<Reply>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<Reply>;
  on(event: "error", listener: (error: Error) => void): unknown;
  once(event: "ready", listener: () => void): unknown;
};

interface ConnectableStore extends RateLimitStore {
  /** Loads the client and connects; resolves once ready, or after `ms`. Never rejects. */
  ready(ms: number): Promise<void>;
}

/**
 * FIXED_WINDOW_SCRIPT (shared/rate-limit/limiter.ts) behind a deadline: past ARGV[2]
 * (milliseconds, Redis's clock) it counts nothing. Either way it returns Redis's
 * time, which keeps our estimate of the clocks' offset fresh.
 */
export const GUARDED_WINDOW_SCRIPT = `local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if now > tonumber(ARGV[2]) then return {-1, -1, now} end
local c = redis.call('INCR', KEYS[1])
local t = redis.call('PTTL', KEYS[1])
if c == 1 or t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); t = tonumber(ARGV[1]) end
return {c, t, now}`;

const stores = new Map<string, ConnectableStore>();

/** Rejects when `signal` aborts: what a request waits for, it waits for no longer than its budget. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

function createStore(url: string): ConnectableStore {
  let client: Promise<Client> | undefined;
  let current: Client | undefined;
  let nextReady: Promise<void> | undefined;
  // Redis's clock minus ours, in milliseconds, bounded from above: Redis read its clock after
  // we sent, so the offset is at most redisNow − sentAt, and the smallest such bound is the
  // tightest. A deadline built on it is never earlier than the request's own (no request is
  // refused a count it waited for), and later by at most a round trip. Undefined until the first.
  let offset: number | undefined;
  let syncing: Promise<void> | undefined;
  let lastLogged = 0;

  async function connect(): Promise<Client> {
    const { createClient } = await import("@redis/client");
    const created = createClient({
      url,
      // Fail fast while disconnected, and keep reconnecting in the background.
      disableOfflineQueue: true,
      // Each command is bounded by its request's own signal instead of the client's 5 s timeout.
      commandOptions: { timeout: 0 },
      socket: { connectTimeout: 1000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) },
    }) as unknown as Client;
    created.on("error", (error) => {
      // The error can quote the URL, password included: log its kind, at most every 10 s.
      if (Date.now() - lastLogged > 10_000) {
        lastLogged = Date.now();
        console.warn(`Redis rate-limit store: ${error.name}`);
      }
    });
    created.connect().catch(() => {});
    current = created;
    return created;
  }

  /** Resolves at the client's next "ready"; one listener however many requests wait. */
  function whenReady(redis: Client): Promise<void> {
    if (redis.isReady) return Promise.resolve();
    nextReady ??= new Promise<void>((resolve) =>
      redis.once("ready", () => {
        nextReady = undefined;
        resolve();
      }),
    );
    return nextReady;
  }

  function learnOffset(redisNow: number, sentAt: number, afresh = false): void {
    const bound = redisNow - sentAt;
    offset = offset === undefined || afresh ? bound : Math.min(offset, bound);
  }

  /** One TIME round trip; harmless if it runs late. Shared by the requests that need it. */
  function syncClock(redis: Client): Promise<void> {
    syncing ??= (async () => {
      const sentAt = Date.now();
      const [seconds, micros] = (await redis.withAbortSignal(AbortSignal.timeout(2000)).sendCommand(["TIME"])) as [string, string];
      learnOffset(Number(seconds) * 1000 + Math.floor(Number(micros) / 1000), sentAt);
    })().finally(() => {
      syncing = undefined;
    });
    return syncing;
  }

  async function usable(signal: AbortSignal): Promise<Client> {
    client ??= connect();
    const redis = await unlessAborted(client, signal);
    await unlessAborted(whenReady(redis), signal);
    if (offset === undefined) await unlessAborted(syncClock(redis), signal);
    return redis;
  }

  /** One command on a ready client, abandoned (and taken off the queue if unsent) at `until`. */
  async function within<T>(until: number, send: (redis: Client) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException("no answer in time", "TimeoutError")),
      Math.max(0, until - Date.now()),
    );
    try {
      const redis = await usable(controller.signal);
      controller.signal.throwIfAborted();
      return await send(redis.withAbortSignal(controller.signal));
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    // A late lease or figure is harmless: the worst is one refresh period without a new reading.
    figures: {
      async claim(key, leaseMs, until) {
        return claimOf(
          await within(until, (redis) => redis.eval(CLAIM_SCRIPT, { keys: [key, leaseKeyOf(key)], arguments: [String(leaseMs)] })),
        );
      },
      async put(key, value, ttlMs, until) {
        await within(until, (redis) => redis.sendCommand(["SET", key, value, "PX", String(ttlMs)]));
      },
    },
    async ready(ms) {
      const signal = AbortSignal.timeout(ms);
      // Connected, failed or still trying after `ms`: the instance starts either way.
      await usable(signal).catch(() => {});
    },
    // Without `until`, RATE_LIMIT_TIMEOUT_MS's default.
    async hit(key, windowMs, until = Date.now() + 300) {
      // A timer of our own: AbortSignal.timeout costs twenty times more, on every request.
      const controller = new AbortController();
      const timer = setTimeout(
        () => controller.abort(new DOMException("no answer in time", "TimeoutError")),
        Math.max(0, until - Date.now()),
      );
      const signal = controller.signal;
      try {
        const redis = current?.isReady && offset !== undefined ? current : await usable(signal);
        // Checked again here: a request that gave up while waiting sends nothing.
        signal.throwIfAborted();
        const sentAt = Date.now();
        const deadline = Math.floor(until + offset!);
        // The signal also takes the command off the client's queue if it is not written yet.
        const reply = await redis
          .withAbortSignal(signal)
          .eval(GUARDED_WINDOW_SCRIPT, { keys: [`${KEY_PREFIX}${key}`], arguments: [String(windowMs), String(deadline)] });
        const [count, ttl, redisNow] = (reply as [number, number, number]).map(Number);
        // Answered in time yet past its deadline: a clock moved, and the old bound with it.
        learnOffset(redisNow, sentAt, count < 0);
        if (count < 0) throw new Error("Redis's clock disagreed with ours; the request was not counted");
        return { count, resetInMs: ttl };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** One store, and so one connection, per Redis URL for the life of the instance. */
export function redisStore(url: string): ConnectableStore {
  let store = stores.get(url);
  if (!store) {
    store = createStore(url);
    stores.set(url, store);
  }
  return store;
}

/**
 * Loading the Redis client takes a few hundred milliseconds, longer than a request
 * should wait for its rate limit: when REDIS_URL is set, pay it while the instance
 * starts (at most `ms`), not on the first request.
 */
export async function connectRedisStore(env: Readonly<Record<string, string | undefined>>, ms = 2000): Promise<void> {
  const url = env.REDIS_URL?.trim();
  if (url) await redisStore(url).ready(ms);
}
