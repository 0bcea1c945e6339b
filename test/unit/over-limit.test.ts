import { describe, expect, it } from "vitest";
import { overLimitCallers } from "../../shared/rate-limit/over-limit.ts";

describe("overLimitCallers", () => {
  it("refuses a noted address until its Retry-After, then forgets it", () => {
    const noted = overLimitCallers();
    noted.note("ip:1", 5000, 1000);
    expect(noted.refusedFor("ip:1", 1000)).toBe(5000);
    expect(noted.refusedFor("ip:1", 5999)).toBe(1);
    expect(noted.refusedFor("ip:1", 6000)).toBe(0);
    expect(noted.refusedFor("ip:2", 1000)).toBe(0);
  });

  it("stays bounded: a note that does not fit is dropped, and ended notes make room", () => {
    const noted = overLimitCallers(2);
    noted.note("ip:1", 1000, 0);
    noted.note("ip:2", 60_000, 0);
    noted.note("ip:3", 60_000, 0);
    expect(noted.refusedFor("ip:3", 10)).toBe(0);
    // ip:1's note has ended: the next note takes its place.
    noted.note("ip:4", 60_000, 2000);
    expect(noted.refusedFor("ip:4", 2000)).toBe(60_000);
    expect(noted.refusedFor("ip:2", 2000)).toBe(58_000);
  });
});
