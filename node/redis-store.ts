/**
 * The rate-limit store over Redis's own TCP protocol, for the Node runtimes only
 * (the edge has no TCP sockets; it uses Upstash's REST protocol instead). The
 * client is loaded and connected on first use, once per warm instance.
 */
import type { RateLimitStore } from "../shared/rate-limit.ts";
import { FIXED_WINDOW_SCRIPT, KEY_PREFIX } from "../shared/rate-limit.ts";

type Client = {
  isReady: boolean;
  connect(): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  on(event: "error", listener: (error: Error) => void): unknown;
};

const stores = new Map<string, RateLimitStore>();

function createStore(url: string): RateLimitStore {
  let client: Promise<{ redis: Client; connected: Promise<unknown> }> | undefined;
  let lastLogged = 0;

  async function connect() {
    const { createClient } = await import("redis");
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
export function redisStore(url: string): RateLimitStore {
  let store = stores.get(url);
  if (!store) {
    store = createStore(url);
    stores.set(url, store);
  }
  return store;
}
