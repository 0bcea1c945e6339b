import { describe, expect, it } from "vitest";
import { vercelClientIp } from "../../shared/hosts/vercel.ts";

describe("vercelClientIp", () => {
  it("prefers x-real-ip, which Vercel sets", () => {
    expect(vercelClientIp(new Headers({ "x-real-ip": "203.0.113.5", "x-forwarded-for": "198.51.100.1" }))).toBe("203.0.113.5");
  });

  it("falls back to the first x-forwarded-for hop", () => {
    expect(vercelClientIp(new Headers({ "x-forwarded-for": " 198.51.100.1 , 10.0.0.1" }))).toBe("198.51.100.1");
  });

  it("knows nothing without either header", () => {
    expect(vercelClientIp(new Headers({ forwarded: "for=192.0.2.60" }))).toBeUndefined();
    expect(vercelClientIp(new Headers({ "x-forwarded-for": "" }))).toBeUndefined();
  });
});
