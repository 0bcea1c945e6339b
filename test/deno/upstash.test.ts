/**
 * The Netlify Edge Function under Deno, rate-limited through Upstash's REST protocol:
 * a fake Upstash in front of a real redis-server, both run by a Node helper process
 * (test/helpers/upstash-server.ts), and the fake Cloudflare in this process.
 */
import assert from "node:assert/strict";
import { startFakeCloudflare, type FakeCloudflare } from "../fake-cloudflare.ts";
import { answerChecks, expectExactLimit } from "../helpers/rate-limit-answers.ts";

type Handler = (request: Request, context: { ip?: string }) => Promise<Response>;

const ROOT = new URL("../../", import.meta.url);
const KEY_ID = "de70de70de70de70de70de70de70de70";
// Unique, realistic-looking secrets, so a leak anywhere is easy to spot.
const CF_TOKEN = "cf-deno-upstash-Secret-3Fg5Hj7Kl9Zx1Cv";
const UPSTASH_TOKEN = "upstash-deno-Secret-8Nb6Vc4Xz2Lk0Jh";
const WRONG_TOKEN = "upstash-deno-wrong-Secret-1Qa3Ws5Ed7Rf";
const SECRETS = [CF_TOKEN, UPSTASH_TOKEN, WRONG_TOKEN];
const KEY_PREFIX = "turn-vend:rate:";
const HELPER_START_MS = 30_000;

interface Helper {
  redisUrl: string;
  upstashUrl: string;
  output(): string;
  stop(): Promise<void>;
}

/** Runs the Node helper, reads its one JSON line, and keeps everything it prints. */
async function startHelper(): Promise<Helper> {
  const child = new Deno.Command("node", {
    args: ["--import", "tsx", "test/helpers/upstash-server.ts"],
    cwd: ROOT,
    env: { FAKE_UPSTASH_TOKEN: UPSTASH_TOKEN, FAKE_UPSTASH_MAX_MS: "120000" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  let firstLine: (line: string) => void = () => {};
  const gotLine = new Promise<string>((resolve) => (firstLine = resolve));
  const drain = async (stream: ReadableStream<Uint8Array>, watch: boolean) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      output += decoder.decode(chunk, { stream: true });
      const newline = output.indexOf("\n");
      if (watch && newline >= 0) firstLine(output.slice(0, newline));
    }
  };
  const drained = Promise.all([drain(child.stdout, true), drain(child.stderr, false)]);
  const exited = child.status;

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      // Closing stdin asks it to stop; SIGTERM too; SIGKILL if it has not within 10 s.
      await child.stdin.close().catch(() => {});
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // Already gone.
          }
          resolve();
        }, 10_000);
      });
      await Promise.race([exited, killed]);
      await exited;
      clearTimeout(timer);
      await drained;
    })());

  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const line = await Promise.race([
      gotLine,
      exited.then((status) => Promise.reject(new Error(`the helper exited with ${status.code}:\n${output}`))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the helper did not start within ${HELPER_START_MS} ms:\n${output}`)), HELPER_START_MS);
      }),
    ]);
    const urls = JSON.parse(line) as { redisUrl: string; upstashUrl: string };
    return { ...urls, output: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

const { expectNoSecret, record, burst } = answerChecks(SECRETS);

/** One command through the fake Upstash, as Upstash's REST protocol sends it. */
async function upstashCommand(helper: Helper, command: string[]): Promise<unknown> {
  const response = await fetch(helper.upstashUrl, {
    method: "POST",
    headers: { authorization: `Bearer ${UPSTASH_TOKEN}` },
    body: JSON.stringify(command),
  });
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  return body.result;
}

Deno.test("Netlify Edge Function rate-limited through Upstash's REST protocol, in front of a real Redis", async (t) => {
  let helper: Helper | undefined;
  let cloudflare: FakeCloudflare | undefined;
  try {
    helper = await startHelper();
    cloudflare = await startFakeCloudflare({ keyId: KEY_ID, apiToken: CF_TOKEN });
    const base = {
      CLOUDFLARE_TURN_KEY_ID: KEY_ID,
      CLOUDFLARE_TURN_KEY_API_TOKEN: CF_TOKEN,
      CLOUDFLARE_TURN_API_BASE: cloudflare.apiBase,
      RATE_LIMIT: "20/60s",
    };
    const upstash = { UPSTASH_REDIS_REST_URL: helper.upstashUrl, UPSTASH_REDIS_REST_TOKEN: UPSTASH_TOKEN };
    const edge: Handler = (await import("../../netlify/edge-functions/ice-servers.ts")).default;
    // What Netlify's edge runtime provides: the Netlify global (read on every call), and a context.
    const call = (env: Record<string, string>, ip: string) => {
      (globalThis as Record<string, unknown>).Netlify = { env: { toObject: () => ({ ...env }) } };
      return edge(new Request("https://site.netlify.app/api/ice-servers"), { ip });
    };

    const expectStoreSawOnlyTheFlight = (count: unknown, limit: number, inFlight: number) => {
      assert.ok(Number(count) > limit && Number(count) <= limit + inFlight, `count ${count}, limit ${limit}, in flight ${inFlight}`);
    };

    await t.step("a burst from one address is limited exactly, the count kept in Redis", async () => {
      const ip = "203.0.113.50";
      cloudflare!.reset();
      const answers = await burst(40, 8, () => call({ ...base, ...upstash }, ip));
      expectExactLimit(answers, 20, 60);
      assert.equal(cloudflare!.requests.length, 20);
      // Past the limit, but only by what was in flight: the instance then refused the address itself.
      expectStoreSawOnlyTheFlight(await upstashCommand(helper!, ["GET", `${KEY_PREFIX}ip:${ip}`]), 20, 8);
      const ttl = (await upstashCommand(helper!, ["PTTL", `${KEY_PREFIX}ip:${ip}`])) as number;
      assert.ok(ttl > 0 && ttl <= 60_000, `PTTL ${ttl}`);
    });

    await t.step("another address keeps its whole allowance", async () => {
      const answer = await record(await call({ ...base, ...upstash }, "203.0.113.51"));
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get("ratelimit-remaining"), "19");
    });

    await t.step("with REDIS_URL set too, the edge counts through Upstash", async () => {
      const ip = "203.0.113.52";
      const answers = await burst(25, 5, () => call({ ...base, ...upstash, REDIS_URL: helper!.redisUrl }, ip));
      expectExactLimit(answers, 20, 60);
      expectStoreSawOnlyTheFlight(await upstashCommand(helper!, ["GET", `${KEY_PREFIX}ip:${ip}`]), 20, 5);
    });

    await t.step("a wrong Upstash token: fail open lets requests through, fail closed answers 503", async () => {
      const wrong = { ...base, ...upstash, UPSTASH_REDIS_REST_TOKEN: WRONG_TOKEN, RATE_LIMIT_TIMEOUT_MS: "300" };
      const ip = "203.0.113.53";
      for (let i = 0; i < 22; i += 1) {
        const started = performance.now();
        const answer = await record(await call({ ...wrong, RATE_LIMIT_FAIL: "open" }, ip));
        assert.equal(answer.status, 200);
        assert.equal(answer.headers.has("ratelimit-limit"), false);
        assert.ok(performance.now() - started < 700, "answered within the budget");
      }
      const started = performance.now();
      const closed = await record(await call({ ...wrong, RATE_LIMIT_FAIL: "closed" }, ip));
      assert.equal(closed.status, 503);
      assert.equal(closed.code, "rate_limit_unavailable");
      assert.ok(performance.now() - started < 700, "answered within the budget");
      assert.equal(await upstashCommand(helper!, ["EXISTS", `${KEY_PREFIX}ip:${ip}`]), 0);
    });

    await t.step("REDIS_URL alone cannot work on the edge: 500 not_configured names UPSTASH_REDIS_REST_URL", async () => {
      const answer = await record(await call({ ...base, REDIS_URL: helper!.redisUrl }, "203.0.113.54"));
      assert.equal(answer.status, 500);
      assert.equal(answer.code, "not_configured");
      assert.match(answer.message ?? "", /UPSTASH_REDIS_REST_URL/);
      assert.ok(!(answer.message ?? "").includes(helper!.redisUrl), "the message does not quote REDIS_URL");
    });
  } finally {
    await cloudflare?.close();
    await helper?.stop();
    delete (globalThis as Record<string, unknown>).Netlify;
  }
  expectNoSecret(helper.output(), "the helper's output");
  assert.match(helper.output(), /"upstashUrl"/);
});
