import { describe, expect, it } from "vitest";
import { configureOrigins } from "../../shared/access/origins.ts";
import { isPublicSuffix } from "../../shared/access/public-suffixes.ts";
import { thrownBy } from "../helpers/service-error.ts";

describe("wildcard origins over a public suffix", () => {
  it.each([
    "https://*.com",
    "https://*.dev",
    "http://*.io:8080",
    "https://*.co.uk",
    "https://*.com.au",
    "https://*.github.io",
    "https://*.netlify.app",
    "https://*.vercel.app",
    "https://*.pages.dev",
    "https://*.herokuapp.com",
  ])("refuses ALLOWED_ORIGINS=%s with invalid_config", (entry) => {
    const error = thrownBy(() => configureOrigins({ ALLOWED_ORIGINS: `https://app.example.com,${entry}` }));
    expect(error.code).toBe("invalid_config");
    expect(error.message).toContain("ALLOWED_ORIGINS entry 2 is a wildcard over a public suffix");
  });

  it.each([
    "https://*.example.com",
    "https://*.example.co.uk",
    "https://*.my-site.github.io",
    "https://*.my-site.netlify.app",
    "http://*.localhost:3000",
  ])("accepts ALLOWED_ORIGINS=%s, a wildcard over a domain of one's own", (entry) => {
    expect(configureOrigins({ ALLOWED_ORIGINS: entry }).kind).toBe("list");
  });

  it("leaves exact origins alone, even on a public suffix's own name", () => {
    expect(configureOrigins({ ALLOWED_ORIGINS: "https://github.io,https://co.uk" }).kind).toBe("list");
  });

  it("counts every single label but localhost as a public suffix", () => {
    expect(isPublicSuffix("com")).toBe(true);
    expect(isPublicSuffix("internal")).toBe(true);
    expect(isPublicSuffix("localhost")).toBe(false);
    expect(isPublicSuffix("example.com")).toBe(false);
  });
});
