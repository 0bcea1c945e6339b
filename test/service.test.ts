/**
 * Service instances (shared/service.ts) keep their state to themselves: two in one process with
 * the same variables count, cache and log apart, as two functions on a host do. What each keeps
 * is listed in docs/architecture.md; module-state.test.ts checks that nothing is kept elsewhere.
 */
import { describe, expect, it } from "vitest";
import { createService } from "../shared/service.ts";
import { captureLog } from "./helpers/log.ts";
import { secret } from "./helpers/secrets.ts";

const SHARED = secret("service-state-shared-secret-Hq3Wm8Zr5Tk");
const ENV = { TURN_SHARED_SECRET: SHARED, TURN_URLS: "turn:turn.example.test:3478" };
const get = () => new Request("https://site.example/api/ice-servers");

describe("two service instances with the same variables", () => {
  it("count each caller apart: one spent an address's allowance, the other still serves it", async () => {
    const env = { ...ENV, RATE_LIMIT: "1/60s" };
    const [first, second] = [createService(), createService()];
    const options = { clientIp: "203.0.113.90", log: captureLog() };
    expect((await first.handle(get(), env, options)).status).toBe(200);
    expect((await first.handle(get(), env, options)).status).toBe(429);
    const other = await second.handle(get(), env, options);
    expect([other.status, other.headers.get("ratelimit-remaining")]).toEqual([200, "0"]);
  });

  it("each say once that callers without an address share an allowance", async () => {
    const [first, second] = [createService(), createService()];
    const log = captureLog();
    for (const service of [first, second, first, second]) expect((await service.handle(get(), ENV, { log })).status).toBe(200);
    expect(log.lines.filter((line) => line.includes("share one RATE_LIMIT allowance"))).toHaveLength(2);
  });

  it("each log a configuration error as an operator event, at most once a minute each", async () => {
    const env = { ...ENV, TURN_TTL: "forever" };
    const [first, second] = [createService(), createService()];
    const log = captureLog();
    for (const service of [first, first, second, second]) expect((await service.handle(get(), env, { log })).status).toBe(500);
    expect(log.lines.filter((line) => line.includes("TURN_TTL must be"))).toHaveLength(2);
  });

  it("load the configuration each for itself: a variable changed in place is read at once by an instance that had not loaded it", async () => {
    const env: Record<string, string> = { ...ENV, TURN_TTL: "600" };
    const first = createService();
    const ttl = async (service = first) =>
      ((await (await service.handle(get(), env, { log: captureLog() })).json()) as { ttl: number }).ttl;
    expect(await ttl()).toBe(600);
    env.TURN_TTL = "700";
    // The first instance rechecks the same object within a second; a second instance has nothing loaded to keep.
    expect(await ttl(createService())).toBe(700);
  });
});
