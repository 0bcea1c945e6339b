/**
 * Reading rate-limited answers, for the Node and the Deno suites alike (only
 * node:assert is used): each answer is scanned for the suite's secrets, and a
 * burst is checked for exactly `limit` allowances.
 */
import assert from "node:assert/strict";

export interface Answer {
  status: number;
  code?: string;
  message?: string;
  headers: Headers;
  body: string;
  /** From `started` to the whole body read. */
  ms: number;
}

export function answerChecks(secrets: readonly string[]) {
  function expectNoSecret(text: string, where: string): void {
    for (const secret of secrets) {
      if (text.includes(secret)) throw new Error(`a secret appeared in ${where}`);
    }
  }

  /** Reads an answer in full, and fails if any secret is in its headers or body. */
  async function record(response: Response, started = performance.now()): Promise<Answer> {
    const body = await response.text();
    const ms = performance.now() - started;
    expectNoSecret(body, "a response body");
    expectNoSecret(JSON.stringify([...response.headers]), "response headers");
    const error = response.status === 200 ? undefined : (JSON.parse(body) as { error?: { code?: string; message?: string } }).error;
    return { status: response.status, code: error?.code, message: error?.message, headers: response.headers, body, ms };
  }

  /** `count` requests, at most `inFlight` at a time; `send(i)` sends the i-th, and answers[i] is its answer. */
  async function burst(count: number, inFlight: number, send: (i: number) => Promise<Response>): Promise<Answer[]> {
    const answers: Answer[] = new Array(count);
    let next = 0;
    async function worker(): Promise<void> {
      while (next < count) {
        const i = next++;
        const started = performance.now();
        answers[i] = await record(await send(i), started);
      }
    }
    await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
    return answers;
  }

  return { expectNoSecret, record, burst };
}

/** How many answers had each status. */
export function statuses(answers: readonly Answer[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const answer of answers) counts[answer.status] = (counts[answer.status] ?? 0) + 1;
  return counts;
}

/** Every 429 is rate_limited and says when to come back; every 200 counts down to 0 exactly once each. */
export function expectExactLimit(answers: readonly Answer[], limit: number, windowSeconds: number): void {
  assert.deepEqual(statuses(answers), answers.length > limit ? { 200: limit, 429: answers.length - limit } : { 200: limit });
  const remaining = answers.filter((a) => a.status === 200).map((a) => Number(a.headers.get("ratelimit-remaining")));
  assert.deepEqual(
    remaining.sort((a, b) => a - b),
    Array.from({ length: limit }, (_, i) => i),
  );
  for (const answer of answers) {
    assert.equal(answer.headers.get("ratelimit-limit"), String(limit));
    const reset = Number(answer.headers.get("ratelimit-reset"));
    assert.ok(reset >= 1 && reset <= windowSeconds, `RateLimit-Reset ${reset}`);
    if (answer.status !== 429) continue;
    assert.equal(answer.code, "rate_limited");
    assert.equal(answer.headers.get("ratelimit-remaining"), "0");
    assert.equal(answer.headers.get("retry-after"), String(reset));
  }
}
