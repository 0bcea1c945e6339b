/**
 * The rate-limit store over Redis's own TCP protocol, for the Node runtimes only
 * (the edge has no TCP sockets; it uses Upstash's REST protocol instead). One
 * client per URL per instance; entry points connect it while the instance starts
 * (connectRedisStore), so the first request does not pay for loading it.
 */
import type { RateLimitStore } from "../shared/rate-limit.ts";
import { FIXED_WINDOW_SCRIPT, KEY_PREFIX } from "../shared/rate-limit.ts";
import { withinTime } from "../shared/upstream.ts";

type Client = {
  isReady: boolean;
  connect(): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  on(event: "error", listener: (error: Error) => void): unknown;
};

interface ConnectableStore extends RateLimitStore {
  /** Loads the client and connects; resolves once ready, or after `ms`. Never rejects. */
  ready(ms: number): Promise<void>;
}

const stores = new Map<string, ConnectableStore>();

function createStore(url: string): ConnectableStore {
  let client: Promise<{ redis: Client; connected: Promise<unknown> }> | undefined;
  let lastLogged = 0;

  async function connect() {
    const { createClient } = await import("@redis/client");
    const created = createClient({
      url,
      // Fail fast while disconnected, and keep reconnecting in the background.
      disableOfflineQueue: true,
      socket: { connectTimeout: 1000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) },
    }) as unknown as Client;
    created.on("error", (error) => {
      // The error can quote the URL, password included: log its kind, at most every 10 s.
      if (Date.now() - lastLogged > 10_000) {
        lastLogged = Date.now();
        console.warn(`Redis rate-limit store: ${error.name}`);
      }
    });
    // Pending while Redis is down (the limiter bounds how long a request waits for it).
    const connected = created.connect();
    connected.catch(() => {});
    return { redis: created, connected };
  }

  return {
    async ready(ms) {
      client ??= connect();
      // Connected, failed or still trying after `ms`: the instance starts either way.
      await withinTime(client.then(({ connected }) => connected), ms, () => new Error("still connecting")).catch(() => {});
    },
    async hit(key, windowMs) {
      client ??= connect();
      const { redis, connected } = await client;
      if (!redis.isReady) await connected;
      const [count, ttl] = (await redis.eval(FIXED_WINDOW_SCRIPT, { keys: [`${KEY_PREFIX}${key}`], arguments: [String(windowMs)] })) as [number, number];
      return { count: Number(count), resetInMs: Number(ttl) };
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
