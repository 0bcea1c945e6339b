/**
 * A real consumer of the TURN REST API route: Debian's Janus 1.1.2, its `nat` settings pointing
 * at `npm start` (the shared-secret provider in front of a local coturn). Janus asks for
 * credentials when a handle gets an offer, with the handle's opaque_id as the username; this
 * shows from Janus's own log that it took the answer, and from coturn's that Janus allocated a
 * relay under the vended username. The TURN URL is TCP: libnice sends UDP from the default
 * interface, which a coturn on 127.0.0.1 never hears. Needs Debian's janus and coturn (npm test
 * installs them, see scripts/test-prerequisites.mjs); SKIP_E2E=1 skips this file.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCoturn, TURNSERVER, type Coturn } from "./helpers/coturn.ts";
import { JANUS, startJanus, type Janus } from "./helpers/janus.ts";
import { startLocalServer, type Spawned } from "./helpers/process.ts";
import { secret } from "./helpers/secrets.ts";

const KEY = secret("janus-test-turn-rest-key-Rf4Tg5Yh6Uj7");

// A WebRTC audio offer as a browser makes one, trimmed to what Janus needs to set up ICE.
const OFFER = [
  "v=0",
  "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0",
  "a=msid-semantic: WMS",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111",
  "c=IN IP4 0.0.0.0",
  "a=rtcp:9 IN IP4 0.0.0.0",
  "a=ice-ufrag:tVnd",
  "a=ice-pwd:0123456789abcdefghijklmn",
  "a=ice-options:trickle",
  `a=fingerprint:sha-256 ${Array.from({ length: 32 }, (_, i) => (i * 7 + 16).toString(16).toUpperCase().padStart(2, "0")).join(":")}`,
  "a=setup:actpass",
  "a=mid:0",
  "a=sendrecv",
  "a=rtcp-mux",
  "a=rtpmap:111 opus/48000/2",
  "a=fmtp:111 minptime=10;useinbandfec=1",
  "",
].join("\r\n");

let dir: string;
let coturn: Coturn | undefined;
let server: { origin: string; server: Spawned } | undefined;
const janus: Partial<Record<"GET" | "POST" | "wrong key", Janus>> = {};

async function janusCall(url: string, body: Record<string, unknown>): Promise<any> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...body, transaction: randomBytes(6).toString("hex") }),
  });
  const answer = await response.json();
  if (answer.janus === "error") throw new Error(`Janus refused ${body.janus}: ${JSON.stringify(answer.error)}`);
  return answer;
}

/** A session, an echotest handle with `opaqueId`, and an offer sent to it: what makes Janus ask for credentials. */
async function offerTo(instance: Janus, opaqueId: string): Promise<void> {
  const session = (await janusCall(instance.api, { janus: "create" })).data.id;
  const handle = (await janusCall(`${instance.api}/${session}`, { janus: "attach", plugin: "janus.plugin.echotest", opaque_id: opaqueId }))
    .data.id;
  await janusCall(`${instance.api}/${session}/${handle}`, {
    janus: "message",
    body: { audio: true, video: false },
    jsep: { type: "offer", sdp: OFFER },
  });
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number, context: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms:\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const allocatedUsernames = (log: string) =>
  [...log.matchAll(/user <([^>]*)>: incoming packet ALLOCATE processed, success/g)].map((match) => match[1]);

const skip = process.env.SKIP_E2E === "1";

describe.skipIf(skip)("a real Janus fetching from the TURN REST API route", () => {
  beforeAll(async () => {
    for (const binary of [JANUS, TURNSERVER]) {
      if (!existsSync(binary))
        throw new Error(
          `${binary} is missing: install Debian's janus and coturn (npm test runs scripts/test-prerequisites.mjs, which installs them as root), or set SKIP_E2E=1`,
        );
    }
    dir = mkdtempSync(join(tmpdir(), "turn-vend-janus-"));
    coturn = await startCoturn(dir, { verbose: true });
    server = await startLocalServer({
      TURN_SHARED_SECRET: coturn.secret,
      TURN_URLS: `stun:127.0.0.1:${coturn.port},${coturn.urls.tcp}`,
      TURN_REST_API_KEYS: KEY,
      LOG_FORMAT: "json",
    });
    const url = `${server.origin}/api/ice-servers/turn-rest`;
    // One Janus per method, started once for the file; each its own folder.
    for (const method of ["GET", "POST"] as const) janus[method] = await startJanus(join(dir, method), { url, key: KEY, method });
    janus["wrong key"] = await startJanus(join(dir, "wrong-key"), { url, key: "w".repeat(40), method: "GET" });
  }, 120_000);

  afterAll(async () => {
    for (const instance of Object.values(janus)) await instance?.stop();
    await server?.server.stop();
    await coturn?.stop();
    // The key and the credential are Janus's to log, at its verbose level; never the route's.
    expect(server?.server.output() ?? "").not.toContain(KEY);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe.each(["GET", "POST"] as const)("Janus 1.1.2 with turn_rest_api_method = %s", (method) => {
    it("fetches credentials when a handle gets an offer, and allocates a TURN relay under the vended username", async () => {
      const instance = janus[method]!;
      const opaqueId = `echotest-${method.toLowerCase()}-${randomBytes(4).toString("hex")}`;
      const before = instance.output().length;
      await offerTo(instance, opaqueId);
      const janusLog = () => instance.output().slice(before);
      // Janus's own word that it parsed the answer: it says nothing of the kind on a bad one.
      await waitFor(
        "Janus taking the credentials",
        () => janusLog().includes("Got credentials from the TURN REST API backend!"),
        20_000,
        janusLog,
      );
      expect(janusLog()).not.toMatch(/Invalid response|Couldn't parse response|Couldn't send the request/);
      // At level 5 Janus logs the request it sent, the key in it, as the docs warn.
      expect(janusLog()).toContain(`Sending request: ${server!.origin}/api/ice-servers/turn-rest?service=turn`);
      expect(janusLog()).toContain(`username=${opaqueId}`);
      // …and the answer, password included (docs/turn-rest.md says so).
      expect(janusLog()).toMatch(
        new RegExp(`\\{"username":"\\d{10}:${opaqueId}","password":"[A-Za-z0-9+/=]{28}","ttl":86400,"uris":\\["turn:`),
      );

      // The TURN username the route made for Janus: "<expiry>:<opaque_id>", allocated over TCP.
      const vended = new RegExp(`^\\d{10}:${opaqueId}$`);
      await waitFor(
        "coturn's allocation under the vended username",
        () => allocatedUsernames(coturn!.log()).some((username) => vended.test(username)),
        20_000,
        () => `${janusLog()}\n--- coturn ---\n${coturn!.log().split("\n").slice(-40).join("\n")}`,
      );
      // …and Janus has the relay among its candidates.
      await waitFor("a relay candidate in Janus's log", () => /typ relay/.test(janusLog()), 10_000, janusLog);
    }, 60_000);
  });

  it("Janus reads the route's error answer as a failed fetch, and goes on without TURN", async () => {
    const instance = janus["wrong key"]!;
    const before = instance.output().length;
    await offerTo(instance, "echotest-wrong-key");
    const janusLog = () => instance.output().slice(before);
    // Janus never looks at the status: the JSON error fails its parse at the first field it wants.
    await waitFor("Janus refusing the answer", () => janusLog().includes("Invalid response: missing username"), 20_000, janusLog);
    expect(janusLog()).not.toContain("Got credentials from the TURN REST API backend!");
    expect(allocatedUsernames(coturn!.log()).some((username) => username.endsWith(":echotest-wrong-key"))).toBe(false);
  }, 60_000);

  it("the route served each Janus its own method, and logged the key as a caller, never the key", () => {
    const lines = server!.server
      .output()
      .split("\n")
      .filter((line) => line.includes('"route":"turn-rest"'))
      .map((line) => JSON.parse(line));
    const served = lines.filter((line) => line.status === 200);
    expect(new Set(served.map((line) => line.method))).toEqual(new Set(["GET", "POST"]));
    for (const line of served) expect(line).toMatchObject({ caller: "key", provider: "shared-secret" });
    expect(lines.filter((line) => line.status !== 200)).toMatchObject([{ method: "GET", status: 401, error: "unauthorized" }]);
  });
});
