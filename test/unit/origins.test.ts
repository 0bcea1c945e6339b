import { describe, expect, it } from "vitest";
import { configureOrigins, originAllowed } from "../../shared/access/origins.ts";

const site = ["https://turn.example.com"];

function allowed(origin: string, env: Record<string, string>, local = false, own: readonly string[] = site) {
  return originAllowed(origin, configureOrigins(env), own, local);
}

describe("origins", () => {
  it("allows only the page's own host when ALLOWED_ORIGINS is unset on a deployed function", () => {
    expect(allowed("https://turn.example.com", {})).toBe(true);
    expect(allowed("https://evil.example", {})).toBe(false);
    expect(allowed("http://localhost:5173", {})).toBe(false);
  });

  it("treats the same host as same-origin whichever scheme the adapter names it with", () => {
    expect(allowed("https://turn.example.com", {}, false, ["http://turn.example.com"])).toBe(true);
  });

  it("takes same-origin from the host's own origins only, so no request can name its own", () => {
    expect(allowed("https://evil.example", {}, false, [])).toBe(false);
    expect(allowed("https://turn.example.com", {}, false, [])).toBe(false);
    expect(allowed("https://preview.example.com", {}, false, ["https://turn.example.com", "https://preview.example.com"])).toBe(true);
    expect(allowed("https://turn.example.com", {}, false, ["not an origin"])).toBe(false);
  });

  it("keeps ALLOWED_ORIGINS working beside the host's own origins", () => {
    expect(allowed("https://app.example.com", { ALLOWED_ORIGINS: "https://app.example.com" })).toBe(true);
    expect(allowed("https://turn.example.com", { ALLOWED_ORIGINS: "https://app.example.com" })).toBe(true);
  });

  it("allows localhost on any port under npm start", () => {
    for (const origin of ["http://localhost:5173", "http://127.0.0.1:3000", "https://localhost", "http://[::1]:8080"]) {
      expect(allowed(origin, {}, true)).toBe(true);
    }
    expect(allowed("http://localhost.evil.example", {}, true)).toBe(false);
    expect(allowed("https://app.example.com", {}, true)).toBe(false);
  });

  it("allows exact origins and subdomain wildcards from ALLOWED_ORIGINS", () => {
    const env = { ALLOWED_ORIGINS: "https://app.example.com, https://*.preview.example.com, http://localhost:5173/" };
    expect(allowed("https://app.example.com", env)).toBe(true);
    expect(allowed("https://pr-12.preview.example.com", env)).toBe(true);
    expect(allowed("https://a.b.preview.example.com", env)).toBe(true);
    expect(allowed("http://localhost:5173", env)).toBe(true);
    expect(allowed("https://preview.example.com", env)).toBe(false);
    expect(allowed("http://pr-12.preview.example.com", env)).toBe(false);
    expect(allowed("https://evilpreview.example.com", env)).toBe(false);
    expect(allowed("https://app.example.com.evil.example", env)).toBe(false);
    expect(allowed("https://app.example.com:8443", env)).toBe(false);
    expect(allowed("http://localhost:5174", env)).toBe(false);
  });

  it("never allows the null origin or something that is not a bare origin", () => {
    const env = { ALLOWED_ORIGINS: "*" };
    expect(allowed("null", env)).toBe(false);
    expect(allowed("https://app.example.com/path", env)).toBe(false);
    expect(allowed("not a url", env)).toBe(false);
  });

  it("allows any origin only when ALLOWED_ORIGINS is * on purpose", () => {
    expect(allowed("https://anyone.example", { ALLOWED_ORIGINS: "*" })).toBe(true);
  });

  it.each(["ftp://x.example", "https://x.example/path", "https://*", "example.com", "https://*.*.example.com"])(
    "refuses the ALLOWED_ORIGINS entry %s, naming the variable",
    (entry) => {
      expect(() => configureOrigins({ ALLOWED_ORIGINS: `https://ok.example, ${entry}` })).toThrow("ALLOWED_ORIGINS entry 2");
    },
  );
});
