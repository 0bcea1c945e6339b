import { describe, expect, it } from "vitest";
import { filterIceServers, parseIceUrl } from "../../shared/ice-urls.ts";
import { CLOUDFLARE_DOCUMENTED_URLS } from "../fake-cloudflare.ts";

describe("parseIceUrl", () => {
  it.each([
    ["stun:stun.cloudflare.com:3478", { scheme: "stun", host: "stun.cloudflare.com", port: 3478 }],
    ["turn:turn.cloudflare.com:53?transport=udp", { scheme: "turn", host: "turn.cloudflare.com", port: 53, transport: "udp" }],
    ["turns:turn.cloudflare.com:5349?transport=tcp", { scheme: "turns", host: "turn.cloudflare.com", port: 5349, transport: "tcp" }],
    ["turn:example.com", { scheme: "turn", host: "example.com", port: 3478 }],
    ["turns:example.com", { scheme: "turns", host: "example.com", port: 5349 }],
    ["turn:[2001:db8::1]:53?transport=udp", { scheme: "turn", host: "[2001:db8::1]", port: 53, transport: "udp" }],
    ["TURN:Example.COM:80?transport=TCP", { scheme: "turn", host: "example.com", port: 80, transport: "tcp" }],
  ])("parses %s", (url, expected) => {
    expect(parseIceUrl(url)).toEqual(expected);
  });

  it.each([
    "http://example.com",
    "turn:",
    "turn:host:99999",
    "turn:host:0",
    "turn:host:53?transport=sctp",
    "turn:user@host",
    "stun:host:3478/path",
    "",
  ])("refuses %j", (url) => {
    expect(parseIceUrl(url)).toBeUndefined();
  });
});

describe("filterIceServers", () => {
  // The URLs of Cloudflare's documented answer, port-53 alternates included.
  const urls = CLOUDFLARE_DOCUMENTED_URLS;

  it("keeps a URL in the trimmed form it was checked in", () => {
    const { servers, malformed } = filterIceServers([{ urls: [" turn:host.example:3478 ", "\tstun:host.example\n", " bad "] }], {
      keepPort53: false,
    });
    expect(servers).toEqual([{ urls: ["turn:host.example:3478", "stun:host.example"] }]);
    expect(malformed).toEqual([" bad "]);
  });

  it("drops port 53 by its parsed port, keeping 5349, 443, 80 and 3478 (where includes(':53') would not)", () => {
    const { servers, malformed } = filterIceServers([{ urls, username: "u", credential: "c" }], { keepPort53: false });
    expect(malformed).toEqual([]);
    expect(servers).toEqual([
      {
        urls: [
          "stun:stun.cloudflare.com:3478",
          "turn:turn.cloudflare.com:3478?transport=udp",
          "turn:turn.cloudflare.com:3478?transport=tcp",
          "turn:turn.cloudflare.com:80?transport=tcp",
          "turns:turn.cloudflare.com:5349?transport=tcp",
          "turns:turn.cloudflare.com:443?transport=tcp",
        ],
        username: "u",
        credential: "c",
      },
    ]);
    // The naive filter this replaces loses the TLS fallback on 5349.
    expect(urls.filter((url) => !url.includes(":53"))).not.toContain("turns:turn.cloudflare.com:5349?transport=tcp");
    expect(servers[0].urls).toContain("turns:turn.cloudflare.com:5349?transport=tcp");
  });

  it("keeps a port that only starts with 53", () => {
    const { servers } = filterIceServers([{ urls: ["turn:host:530", "turn:host:5300?transport=tcp"] }], { keepPort53: false });
    expect(servers[0].urls).toEqual(["turn:host:530", "turn:host:5300?transport=tcp"]);
  });

  it("keeps port 53 when asked to", () => {
    const { servers } = filterIceServers([{ urls }], { keepPort53: true });
    expect(servers[0].urls).toEqual(urls);
  });

  it("drops malformed URLs and reports them, and drops a server left with no URL", () => {
    const { servers, malformed } = filterIceServers(
      [{ urls: ["stun:ok.example:3478", "https://nope.example"] }, { urls: ["turn:only53.example:53"], username: "u", credential: "c" }],
      { keepPort53: false },
    );
    expect(servers).toEqual([{ urls: ["stun:ok.example:3478"] }]);
    expect(malformed).toEqual(["https://nope.example"]);
  });
});
