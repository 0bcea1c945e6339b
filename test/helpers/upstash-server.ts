/**
 * A real redis-server and the fake Upstash REST API in front of it, as one Node
 * process for tests that run elsewhere (Deno's test runner):
 *
 *   FAKE_UPSTASH_TOKEN=… node --import tsx test/helpers/upstash-server.ts
 *
 * prints one JSON line, {"redisUrl": "redis://127.0.0.1:P", "upstashUrl": "http://127.0.0.1:Q"},
 * once both answer, and stops both on SIGTERM, SIGINT, or when its standard input
 * closes (so a parent that dies takes it along), or after FAKE_UPSTASH_MAX_MS (default 5 min).
 * The token is never printed.
 */
import { startFakeUpstash, type FakeUpstash } from "../fake-upstash.ts";
import { startRedis, type RedisServer } from "./redis.ts";

const token = process.env.FAKE_UPSTASH_TOKEN;
const maxLifetimeMs = Number(process.env.FAKE_UPSTASH_MAX_MS ?? 300_000);

let redis: RedisServer | undefined;
let upstash: FakeUpstash | undefined;
let stopping: Promise<void> | undefined;
let started: Promise<unknown> = Promise.resolve();

function shutdown(code: number): Promise<void> {
  stopping ??= (async () => {
    clearTimeout(lifetime);
    // A stop asked for while starting waits for the start (bounded), so nothing is left running.
    await started.catch(() => {});
    await upstash?.close().catch(() => {});
    await redis?.close().catch(() => {});
    process.exit(code);
  })();
  return stopping;
}

const lifetime = setTimeout(() => {
  console.error(`upstash-server: stopping after ${maxLifetimeMs} ms`);
  void shutdown(0);
}, maxLifetimeMs);

process.on("SIGTERM", () => void shutdown(0));
process.on("SIGINT", () => void shutdown(0));
process.stdin.on("end", () => void shutdown(0));
process.stdin.on("error", () => void shutdown(0));
process.stdin.resume();

started = (async () => {
  if (!token) throw new Error("set FAKE_UPSTASH_TOKEN");
  redis = await startRedis();
  upstash = await startFakeUpstash({ redisUrl: redis.url, token });
})();
try {
  await started;
  if (!stopping) process.stdout.write(`${JSON.stringify({ redisUrl: redis!.url, upstashUrl: upstash!.url })}\n`);
} catch (error) {
  console.error(`upstash-server: ${(error as Error).message}`);
  await shutdown(1);
}
