import { describe, expect, it } from "vitest";
import { netlifyOwnOrigins } from "../../shared/hosts/netlify.ts";
import { vercelOwnOrigins } from "../../shared/hosts/vercel.ts";
import { checkRequestTarget } from "../../shared/access/request-target.ts";

const request = (url: string, headers: Record<string, string> = {}) => new Request(url, { headers });

describe("own origins, from what each platform knows", () => {
  it("Netlify: the routed host, the site URL and this deploy's permalink, never the request URL", () => {
    const context = { site: { url: "https://www.example.com", name: "turn" }, deploy: { id: "64a1b2" } };
    expect(netlifyOwnOrigins(request("https://evil.example/api/ice-servers", { host: "turn.netlify.app" }), context)).toEqual([
      "https://turn.netlify.app",
      "https://www.example.com",
      "https://64a1b2--turn.netlify.app",
    ]);
    expect(netlifyOwnOrigins(request("https://evil.example/api/ice-servers"), {})).toEqual([]);
  });

  it("Vercel: the routed host and the system URL variables, which carry no scheme", () => {
    const env = {
      VERCEL_URL: "turn-abc.vercel.app",
      VERCEL_BRANCH_URL: " turn-git-main.vercel.app ",
      VERCEL_PROJECT_PRODUCTION_URL: "",
      OTHER: "x.example",
    };
    expect(vercelOwnOrigins(request("https://evil.example/api/ice-servers", { host: "turn.example.com" }), env)).toEqual([
      "https://turn.example.com",
      "https://turn-abc.vercel.app",
      "https://turn-git-main.vercel.app",
    ]);
  });
});

describe("the request-target", () => {
  const check = (url: string, host?: string) => () => checkRequestTarget(request(url, host === undefined ? {} : { host }), new URL(url));

  it("accepts a URL on the host the request was sent to, whatever the case or default port", () => {
    expect(check("https://turn.example.com/api/ice-servers", "turn.example.com")).not.toThrow();
    expect(check("https://turn.example.com/api/ice-servers", "Turn.Example.com:443")).not.toThrow();
    expect(check("http://127.0.0.1:8888/api/ice-servers", "127.0.0.1:8888")).not.toThrow();
    expect(check("http://[::1]:8888/api/ice-servers", "[::1]:8888")).not.toThrow();
    expect(check("https://turn.example.com/api/ice-servers")).not.toThrow();
  });

  it.each([
    ["a URL on another host than Host (absolute-form)", "http://evil.example/api/ice-servers", "turn.example.com"],
    ["a path starting with //", "https://turn.example.com//evil.example/api/ice-servers", "turn.example.com"],
    ["the same without a Host header", "https://turn.example.com//evil.example/api/ice-servers", undefined],
    ["another port", "http://127.0.0.1:9999/api/ice-servers", "127.0.0.1:8888"],
    ["a Host that is not a host name", "https://turn.example.com/api/ice-servers", "a b"],
    ["a Host with a path", "https://turn.example.com/api/ice-servers", "turn.example.com/x"],
    ["a Host with userinfo", "https://turn.example.com/api/ice-servers", "evil@turn.example.com"],
  ])("refuses %s with 400 invalid_request", (_, url, host) => {
    expect(check(url, host)).toThrow(expect.objectContaining({ code: "invalid_request" }));
  });
});
