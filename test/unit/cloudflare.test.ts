import { describe, expect, it } from "vitest";
import { prepareCloudflare, processCloudflare } from "../../shared/providers/cloudflare/turn.ts";
import { thrownBy } from "../helpers/service-error.ts";

const CONFIG = { keyId: "key/with space", apiToken: "tok-abc-123-SECRET", apiBase: "https://rtc.example/v1" };

function reply(status: number, body: unknown, headers: Record<string, string> = {}) {
  return { status, headers: new Headers(headers), body: typeof body === "string" ? body : JSON.stringify(body) };
}

describe("prepareCloudflare", () => {
  it("builds the documented generate-ice-servers request, with the key id path-encoded", async () => {
    const request = prepareCloudflare(CONFIG, 600);
    expect(request.method).toBe("POST");
    expect(request.url).toBe("https://rtc.example/v1/turn/keys/key%2Fwith%20space/credentials/generate-ice-servers");
    expect(request.headers.authorization).toBe("Bearer tok-abc-123-SECRET");
    expect(request.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(request.body!)).toEqual({ ttl: 600 });
  });
});

describe("processCloudflare", () => {
  const server = { urls: ["stun:stun.cloudflare.com:3478"], username: "u", credential: "c" };

  it.each([200, 201])("accepts the documented array shape on %i", (status) => {
    expect(processCloudflare(reply(status, { iceServers: [server] }))).toEqual([server]);
  });

  it("accepts the older single-object shape", () => {
    expect(processCloudflare(reply(201, { iceServers: server }))).toEqual([server]);
  });

  it("accepts a single URL string and normalises it to an array", () => {
    expect(processCloudflare(reply(201, { iceServers: [{ urls: "stun:a.example" }] }))).toEqual([{ urls: ["stun:a.example"] }]);
  });

  it("ignores fields it does not know", () => {
    expect(processCloudflare(reply(201, { iceServers: [{ ...server, extra: 1 }], other: true }))).toEqual([server]);
  });

  it.each([
    ["not JSON", "<html>"],
    ["no iceServers", {}],
    ["an empty array", { iceServers: [] }],
    ["a server without urls", { iceServers: [{ username: "u" }] }],
    ["empty urls", { iceServers: [{ urls: [] }] }],
    ["numeric urls", { iceServers: [{ urls: [3478] }] }],
    ["a numeric username", { iceServers: [{ urls: ["stun:a"], username: 5 }] }],
    ["null", null],
  ])("refuses %s as an upstream_invalid_response", (_, body) => {
    expect(thrownBy(() => processCloudflare(reply(201, body))).code).toBe("upstream_invalid_response");
  });

  it.each([
    [401, "upstream_unauthorized", 502],
    [403, "upstream_unauthorized", 502],
    [400, "upstream_error", 502],
    [404, "upstream_error", 502],
    [500, "upstream_error", 502],
    [502, "upstream_error", 502],
    [429, "upstream_rate_limited", 503],
    [503, "upstream_unavailable", 503],
    [301, "upstream_error", 502],
  ])("maps HTTP %i to %s (%i)", (status, code, ours) => {
    const error = thrownBy(() => processCloudflare(reply(status, { errors: [{ message: "secret detail tok-abc-123-SECRET" }] })));
    expect(error.code).toBe(code);
    expect(error.status).toBe(ours);
    expect(error.message).not.toContain("secret detail");
  });

  it("passes a valid Retry-After on, in either HTTP form, and drops a malformed one", () => {
    expect(thrownBy(() => processCloudflare(reply(429, "", { "retry-after": "12" }))).headers).toEqual({ "Retry-After": "12" });
    const date = "Wed, 21 Oct 2026 07:28:00 GMT";
    expect(thrownBy(() => processCloudflare(reply(503, "", { "retry-after": date }))).headers).toEqual({ "Retry-After": date });
    expect(thrownBy(() => processCloudflare(reply(429, "", { "retry-after": "soon" }))).headers).toEqual({});
    expect(thrownBy(() => processCloudflare(reply(429, "", { "retry-after": "-5" }))).headers).toEqual({});
  });
});
