/**
 * `npm start` with no configuration, on a machine with coturn (Debian's, /usr/bin/turnserver):
 * it runs a coturn of its own on loopback (server/local-relay.ts), the self-test page passes
 * in Chromium, the secret never shows, and coturn ends with npm start however npm start ends.
 * Without coturn on the PATH it answers STUN-only and says what to install.
 * SKIP_E2E=1 skips the Chromium part, as in e2e.test.ts.
 */
import { createHmac } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, CHROMIUM_ARGS, PLAIN_CHROMIUM_ARGS } from "./helpers/chromium.ts";
import { TURNSERVER } from "./helpers/coturn.ts";
import { startLocalServer, type Spawned } from "./helpers/process.ts";
import { alive, commandLine } from "./helpers/proc.ts";

/** Each process's parent, from /proc. */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name, in parentheses, may hold spaces: the fields after it are fixed.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      map.set(Number(entry), ppid);
    } catch {
      // Gone meanwhile.
    }
  }
  return map;
}

function descendants(pid: number): number[] {
  const tree = parents();
  const found: number[] = [];
  let frontier = [pid];
  while (frontier.length > 0) {
    const next = [...tree].filter(([, parent]) => frontier.includes(parent)).map(([child]) => child);
    found.push(...next);
    frontier = next;
  }
  return found;
}

async function gone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

interface Relay {
  pid: number;
  configFile: string;
  secret: string;
}

/** The coturn npm start runs, read from its command line and its configuration file. */
function relayOf(server: Spawned): Relay | undefined {
  const pid = descendants(server.child.pid!).find((candidate) => commandLine(candidate)[0]?.endsWith("/turnserver"));
  if (pid === undefined) return undefined;
  const args = commandLine(pid);
  const configFile = args[args.indexOf("-c") + 1];
  const secret = /^static-auth-secret=(.+)$/m.exec(readFileSync(configFile, "utf8"))?.[1] ?? "";
  return { pid, configFile, secret };
}

/** npm start's own process (below npm and tsx, when they are there): the one a `kill PID` is meant for. */
function serverProcess(server: Spawned): number {
  const pids = [server.child.pid!, ...descendants(server.child.pid!)].filter((pid) =>
    commandLine(pid).some((arg) => arg.endsWith("server/start.ts")),
  );
  return pids.find((pid) => !descendants(pid).some((child) => pids.includes(child)))!;
}

const emptyFolder = () => mkdtempSync(join(tmpdir(), "turn-local-relay-"));

async function startWithRelay(env: Record<string, string> = {}) {
  const started = await startLocalServer(env, { cwd: emptyFolder(), localRelay: true });
  const relay = relayOf(started.server);
  if (!relay) {
    await started.server.stop();
    throw new Error(`npm start runs no coturn:\n${started.server.output()}`);
  }
  return { ...started, relay };
}

describe.skipIf(!existsSync(TURNSERVER))("npm start with no configuration, where coturn is installed", () => {
  let service: Awaited<ReturnType<typeof startWithRelay>>;
  const answers: string[] = [];

  beforeAll(async () => {
    service = await startWithRelay();
  });
  afterAll(async () => service?.server.stop());

  it("runs coturn on loopback with a full-strength secret made for this run, kept in a file only its user reads", () => {
    const { secret, configFile } = service.relay;
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(statSync(configFile).mode & 0o077).toBe(0);
    expect(statSync(join(configFile, "..")).mode & 0o077).toBe(0);
    expect(readFileSync(configFile, "utf8")).toMatch(/^listening-ip=127\.0\.0\.1$/m);
    expect(service.server.output()).toContain("running a coturn of its own");
    expect(service.server.output()).toContain("TURN_LOCAL_RELAY=off");
  });

  it("answers credentials for it, marked local-relay, over UDP, TCP and TLS", async () => {
    const text = await (await fetch(`${service.origin}/api/ice-servers`)).text();
    answers.push(text);
    const body = JSON.parse(text);
    expect(body.provider).toBe("local-relay");
    expect(body.revokeToken).toBeUndefined();
    const [server] = body.iceServers;
    expect(server.urls).toEqual([
      expect.stringMatching(/^turn:127\.0\.0\.1:\d+\?transport=udp$/),
      expect.stringMatching(/^turn:127\.0\.0\.1:\d+\?transport=tcp$/),
      expect.stringMatching(/^turns:127\.0\.0\.1:\d+\?transport=tcp$/),
    ]);
    // coturn's own secret signs them: the TURN REST API scheme.
    expect(server.credential).toBe(createHmac("sha1", service.relay.secret).update(server.username).digest("base64"));
  });

  const withBrowser = process.env.SKIP_E2E !== "1" && existsSync(CHROMIUM);

  /** The self-test page at `query`, run to its result in a fresh Chromium started with `args`. */
  async function selfTest(args: string[], query: string, check: (page: Page, why: string) => Promise<void>): Promise<void> {
    const profile = emptyFolder();
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args, timeout: 30_000 });
    try {
      const page = await context.newPage();
      page.on("response", async (response) => {
        if (response.url().includes("/api/ice-servers")) answers.push(await response.text().catch(() => ""));
      });
      await page.goto(`${service.origin}/${query}`);
      await page.locator('#result:not([data-state="running"])').waitFor({ timeout: 30_000 });
      const why = await page.locator("body").innerText();
      expect(await page.locator("#result").innerText(), why).toBe("PASS");
      expect(await page.locator("#provider").innerText(), why).toBe("local-relay");
      await check(page, why);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }

  it.skipIf(!withBrowser)(
    "the self-test page in Chromium shows PASS, relayed over UDP and over TCP",
    // As a developer's browser runs: neither loopback candidates allowed nor certificate errors ignored.
    () =>
      selfTest(PLAIN_CHROMIUM_ARGS, "", async (page, why) => {
        const rows = await page.locator("#url-rows tr").evaluateAll((trs) =>
          trs.map((tr) => ({
            transport: tr.children[1].textContent,
            arrived: (tr as HTMLElement).dataset.arrived,
            pair: tr.children[4].textContent,
          })),
        );
        for (const transport of ["udp", "tcp"]) {
          expect(rows, why).toContainEqual({ transport, arrived: "true", pair: `relay ⇄ relay over ${transport}` });
        }
      }),
    60_000,
  );

  it.skipIf(!withBrowser)(
    "its TLS relays too, in a Chromium that accepts the throw-away certificate",
    () =>
      selfTest(CHROMIUM_ARGS, "?transport=tls", async (page, why) => {
        expect(await page.locator("#url-rows tr td:nth-child(5)").allInnerTexts(), why).toEqual(["relay ⇄ relay over tls"]);
      }),
    60_000,
  );

  it("never shows the secret: not in its output, not in an answer", () => {
    expect(answers.length).toBeGreaterThan(0);
    for (const text of [service.server.output(), ...answers]) expect(text).not.toContain(service.relay.secret);
  });
});

describe.skipIf(!existsSync(TURNSERVER))("npm start's coturn ends with npm start", () => {
  let service: Awaited<ReturnType<typeof startWithRelay>> | undefined;
  afterEach(async () => {
    await service?.server.stop();
    // Should coturn have outlived npm start (the failure these tests look for), it goes now, with its folder.
    if (service && alive(service.relay.pid)) {
      process.kill(service.relay.pid, "SIGKILL");
      rmSync(join(service.relay.configFile, ".."), { recursive: true, force: true });
    }
    service = undefined;
  });

  it.each([
    ["Ctrl-C (SIGINT to the terminal's whole process group)", (server: Spawned) => process.kill(-server.child.pid!, "SIGINT")],
    ["SIGTERM to its process", (server: Spawned) => process.kill(serverProcess(server), "SIGTERM")],
    ["SIGINT to its process", (server: Spawned) => process.kill(serverProcess(server), "SIGINT")],
    ["SIGKILL to its process", (server: Spawned) => process.kill(serverProcess(server), "SIGKILL")],
  ])(
    "%s: coturn and its folder are gone",
    async (_, stop) => {
      service = await startWithRelay();
      const own = serverProcess(service.server);
      stop(service.server);
      expect(await gone(own), "npm start's process").toBe(true);
      expect(await gone(service.relay.pid), `coturn:\n${service.server.output()}`).toBe(true);
      // The folder holds the secret; after a SIGKILL, coturn's watcher removes it a moment later.
      const deadline = Date.now() + 5_000;
      while (existsSync(service.relay.configFile) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(existsSync(service.relay.configFile)).toBe(false);
    },
    30_000,
  );
});

describe("npm start with no configuration and no coturn", () => {
  let server: Spawned | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it("without turnserver on the PATH: STUN-only, and the warning names the package to install", async () => {
    // A PATH with node alone.
    const bin = emptyFolder();
    symlinkSync(process.execPath, join(bin, "node"));
    const started = await startLocalServer({ PATH: bin }, { cwd: emptyFolder(), localRelay: true });
    server = started.server;
    const body = await (await fetch(`${started.origin}/api/ice-servers`)).json();
    expect(body).toMatchObject({ provider: "none", iceServers: [{ urls: ["stun:stun.cloudflare.com:3478"] }] });
    expect(server.output()).toContain("No TURN provider is configured: answering STUN-only");
    expect(server.output()).toContain("apt-get install coturn");
    expect(server.output()).toContain("brew install coturn");
    expect(relayOf(server)).toBeUndefined();
  });

  it("with TURN_LOCAL_RELAY=off: STUN-only, and no coturn started", async () => {
    const started = await startLocalServer({ TURN_LOCAL_RELAY: "off" }, { cwd: emptyFolder(), localRelay: true });
    server = started.server;
    const body = await (await fetch(`${started.origin}/api/ice-servers`)).json();
    expect(body.provider).toBe("none");
    expect(server.output()).toContain("answering STUN-only");
    expect(server.output()).not.toContain("install coturn");
    expect(relayOf(server)).toBeUndefined();
  });

  it("refuses a TURN_LOCAL_RELAY that is not a flag, naming it, and runs no coturn", async () => {
    const started = await startLocalServer({ TURN_LOCAL_RELAY: "maybe" }, { cwd: emptyFolder(), localRelay: true });
    server = started.server;
    expect(server.output()).toContain("TURN_LOCAL_RELAY must be true or false");
    expect(relayOf(server)).toBeUndefined();
  });
});
