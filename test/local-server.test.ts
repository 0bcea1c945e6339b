import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CONTRACT_TOKEN } from "./contract/cases.ts";
import { describeContract } from "./contract/vitest-suite.ts";
import { startLocalServer, type Spawned } from "./helpers/process.ts";

const startLocal = (env: Record<string, string>, cwd?: string) => startLocalServer(env, { cwd });

let local: Spawned | undefined;
describeContract("npm start (local server)", async (env) => {
  const started = await startLocal(env);
  local = started.server;
  return { send: (path, init) => fetch(`${started.origin}${path}`, init), close: () => started.server.stop() };
});

it("the local server never printed the API token", () => {
  expect(local?.output()).toContain("OPERATOR: Cloudflare refused our credentials");
  expect(local!.output()).not.toContain(CONTRACT_TOKEN);
});

describe("npm start without configuration", () => {
  let server: Spawned | undefined;
  afterEach(async () => server?.stop());

  it("answers STUN-only, marked provider none, and warns loudly at start-up", async () => {
    const started = await startLocal({});
    server = started.server;
    const response = await fetch(`${started.origin}/api/ice-servers`);
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.provider).toBe("none");
    expect(body.iceServers).toEqual([{ urls: ["stun:stun.cloudflare.com:3478"] }]);
    expect(server.output()).toContain("No TURN provider is configured");
  });

  it("reads a .env file from the folder it starts in", async () => {
    const dir = mkdtempSync(join(tmpdir(), "turn-env-"));
    writeFileSync(join(dir, ".env"), "TURN_TTL=1234\n");
    const started = await startLocal({}, dir);
    server = started.server;
    const body = await (await fetch(`${started.origin}/api/ice-servers`)).json();
    expect(body.ttl).toBe(1234);
  });

  it("limits by the socket's address: forwarding headers a client could forge are ignored", async () => {
    // The readiness probe in startLocal is the first of the three.
    const started = await startLocal({ RATE_LIMIT: "3/60s" });
    server = started.server;
    const statuses: number[] = [];
    for (const forged of ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) {
      const response = await fetch(`${started.origin}/api/ice-servers`, { headers: { "x-forwarded-for": forged, "x-real-ip": forged } });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
  });

  it("names an invalid variable at start-up without printing its value", async () => {
    const started = await startLocal({ TURN_TTL: "999999999" });
    server = started.server;
    const response = await fetch(`${started.origin}/api/ice-servers`);
    expect(response.status).toBe(500);
    expect((await response.json()).error.code).toBe("invalid_config");
    expect(server.output()).toContain("TURN_TTL must be a whole number from 1 to 172800");
    expect(server.output()).not.toContain("999999999");
  });
});
