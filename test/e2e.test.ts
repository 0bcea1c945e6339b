/**
 * End to end, on 127.0.0.1 only: real Chromium (playwright-core, /usr/bin/chromium) fetches
 * credentials from `npm start`, then relays a data channel through a real coturn.
 * Needs Debian's coturn and chromium (npm test installs them, see scripts/test-prerequisites.mjs); SKIP_E2E=1 skips this file.
 */
import { createHmac } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeCloudflare, type FakeCloudflare } from "./fake-cloudflare.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "./helpers/chromium.ts";
import { startCoturn, TURNSERVER, type Coturn } from "./helpers/coturn.ts";
import { startLocalServer, type Spawned } from "./helpers/process.ts";

const ROOT = resolve(import.meta.dirname, "..");
const RESULTS = join(ROOT, "test-results");
const DOCS_SCREENSHOT = join(ROOT, "docs/selftest.png");
const PROBES = readFileSync(join(import.meta.dirname, "e2e/probes.js"), "utf8");

type Transport = "udp" | "tcp" | "tls";

interface Candidate {
  side: "a" | "b";
  url?: string;
  protocol?: string;
  address: string;
  ms: number;
}
interface CandidateError {
  side: "a" | "b";
  url?: string;
  code: number;
  text?: string;
}
interface Pair {
  state: string;
  local: { type?: string; protocol?: string; url?: string; address: string };
  remote: { type?: string; address: string };
}
interface RelayFacts {
  provider: string;
  ttl: number;
  urls: string[];
  usernames: (string | undefined)[];
  arrived: boolean;
  elapsedMs: number;
  iceConnectionState: string;
  selected?: Pair;
  relays: Candidate[];
  errors: CandidateError[];
}
interface KeepFreshFacts {
  ttl: number;
  initial: { username: string; expiresAt: number; fetchedAt: number };
  refreshes: { at: number; username: string; expiresAt: number }[];
  failures: string[];
  appliedUsernames: string[];
  firstArrived: [boolean, boolean];
  expiredAt: number;
  fresh: { before?: Pair; after?: Pair; newRelays: Candidate[]; errorsAfterRestart: CandidateError[]; secondArrived: boolean };
  control: { before?: Pair; after?: Pair; newRelays: Candidate[]; errorsAfterRestart: CandidateError[] };
}

interface LongCallEvent {
  side: "a" | "b";
  kind: "refresh" | "restart" | "error";
  at: number;
  username?: string;
  code?: string;
  message?: string;
}
interface LongCallFacts {
  opened: boolean;
  initialUsernames: string[];
  sent: number;
  received: number;
  inOrder: boolean;
  maxGapMs: number;
  durationMs: number;
  addresses: { a: string[]; b: string[] };
  offers: { side: "a" | "b"; at: number; ufrag?: string }[];
  negotiationErrors: string[];
  candidateErrors: CandidateError[];
  events: LongCallEvent[];
}

/** The usernames coturn allocated a relay for, in order, from its verbose log. */
function allocatedUsernames(log: string): string[] {
  return [...log.matchAll(/user <([^>]*)>: incoming packet ALLOCATE processed, success/g)].map((match) => match[1]);
}

interface Service {
  origin: string;
  server: Spawned;
}

/** `npm start`, as a child process, from a folder with no .env, with only these variables. */
async function startService(env: Record<string, string>, cwd: string): Promise<Service> {
  return startLocalServer({ HOST: "127.0.0.1", ...env }, { cwd });
}

const skip = process.env.SKIP_E2E === "1";

describe.skipIf(skip)("end to end: Chromium relays through a real coturn", () => {
  let dir: string;
  let coturn: Coturn;
  let cloudflare: FakeCloudflare;
  /** Shared secret, right. */
  let good: Service;
  /** Shared secret, wrong. */
  let wrong: Service;
  /** Cloudflare provider, against the fake Cloudflare, whose credentials coturn accepts. */
  let viaCloudflare: Service;
  /** Shared secret, right, with coturn's UDP URL only: one allocation per gathering. */
  let udpOnly: Service;
  let context: BrowserContext;
  const services: Service[] = [];

  beforeAll(async () => {
    for (const binary of [TURNSERVER, CHROMIUM]) {
      if (!existsSync(binary))
        throw new Error(
          `${binary} is missing: install Debian's coturn and chromium (npm test runs scripts/test-prerequisites.mjs, which installs them as root), or set SKIP_E2E=1`,
        );
    }
    dir = mkdtempSync(join(tmpdir(), "turn-e2e-"));
    mkdirSync(join(dir, "coturn"));
    mkdirSync(join(dir, "cwd"));
    // Verbose: the long-call test reads which usernames each ALLOCATE came with.
    coturn = await startCoturn(join(dir, "coturn"), { verbose: true });
    const allUrls = [coturn.urls.udp, coturn.urls.tcp, coturn.urls.tls].join(",");

    let minted = 0;
    cloudflare = await startFakeCloudflare({
      keyId: "e2e-key",
      apiToken: "e2e-api-token",
      // Cloudflare's credentials are opaque; these follow coturn's scheme so that coturn takes them.
      mint: (ttl) => {
        const username = `${Math.floor(Date.now() / 1000) + ttl}:cloudflare-${++minted}`;
        return { username, credential: createHmac("sha1", coturn.secret).update(username).digest("base64") };
      },
      urls: [coturn.urls.udp, coturn.urls.tcp, coturn.urls.tls],
    });

    const cwd = join(dir, "cwd");
    const started = await Promise.all([
      startService({ TURN_SHARED_SECRET: coturn.secret, TURN_URLS: allUrls }, cwd),
      startService({ TURN_SHARED_SECRET: `not-${coturn.secret}`, TURN_URLS: allUrls }, cwd),
      startService(
        {
          CLOUDFLARE_TURN_KEY_ID: "e2e-key",
          CLOUDFLARE_TURN_KEY_API_TOKEN: "e2e-api-token",
          CLOUDFLARE_TURN_API_BASE: cloudflare.apiBase,
        },
        cwd,
      ),
      startService({ TURN_SHARED_SECRET: coturn.secret, TURN_URLS: coturn.urls.udp }, cwd),
    ]);
    services.push(...started);
    [good, wrong, viaCloudflare, udpOnly] = started;

    context = await chromium.launchPersistentContext(join(dir, "chromium-profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1000, height: 700 },
      timeout: 30_000,
    });
  });

  afterAll(async () => {
    await context?.close().catch(() => {});
    await Promise.all(services.map((service) => service.server.stop()));
    await coturn?.stop();
    await cloudflare?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A blank page of `origin`, with the probes loaded. */
  async function probePage(origin: string): Promise<Page> {
    const page = await context.newPage();
    await page.route(`${origin}/e2e-blank`, (route) =>
      route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: "<!doctype html><title>e2e</title>" }),
    );
    await page.goto(`${origin}/e2e-blank`);
    await page.addScriptTag({ content: PROBES });
    return page;
  }

  async function relay(
    origin: string,
    options: { transport?: Transport; ttl?: number; delayMs?: number; waitMs?: number },
  ): Promise<RelayFacts> {
    const page = await probePage(origin);
    try {
      return (await page.evaluate(`window.e2e.relay(${JSON.stringify(options)})`)) as RelayFacts;
    } finally {
      await page.close();
    }
  }

  function diagnose(facts: unknown): string {
    return `${JSON.stringify(facts, null, 2)}\n--- coturn log (tail) ---\n${coturn.log().split("\n").slice(-30).join("\n")}`;
  }

  describe("shared-secret credentials from npm start", () => {
    it.each([
      ["udp", "udp"],
      ["tcp", "tcp"],
      ["tls", "tls"],
    ] as const)(
      "relay over TURN/%s: data arrives on a relay/relay pair",
      async (transport, protocol) => {
        const facts = await relay(good.origin, { transport });
        const why = diagnose(facts);
        expect(facts.provider, why).toBe("shared-secret");
        expect(facts.urls, why).toEqual([coturn.urls[transport]]);
        // Both peers got a relay candidate from that URL, allocated over that transport.
        for (const side of ["a", "b"]) {
          expect(
            facts.relays.filter((relay) => relay.side === side && relay.url === coturn.urls[transport] && relay.protocol === protocol),
            why,
          ).not.toHaveLength(0);
        }
        expect(facts.arrived, why).toBe(true);
        expect(facts.selected, why).toMatchObject({ state: "succeeded", local: { type: "relay", protocol }, remote: { type: "relay" } });
        expect(facts.selected!.local.url, why).toBe(coturn.urls[transport]);
      },
      30_000,
    );
  });

  describe.concurrent("credentials coturn refuses", () => {
    it("a wrong shared secret: no relay candidate, coturn answers 401, no data within 5 s", async () => {
      const facts = await relay(wrong.origin, { waitMs: 5_000 });
      const why = diagnose(facts);
      expect(facts.provider, why).toBe("shared-secret");
      expect(facts.urls, why).toHaveLength(3);
      expect(facts.relays, why).toEqual([]);
      expect(
        facts.errors.some((error) => error.code === 401),
        why,
      ).toBe(true);
      expect(facts.arrived, why).toBe(false);
      expect(facts.selected, why).toBeUndefined();
    }, 30_000);

    it("a TTL that has run out (1 s, used 2.5 s later): no relay, coturn answers 401, no data within 5 s", async () => {
      const facts = await relay(good.origin, { ttl: 1, delayMs: 2_500, waitMs: 5_000 });
      const why = diagnose(facts);
      expect(facts.ttl, why).toBe(1);
      expect(facts.relays, why).toEqual([]);
      expect(
        facts.errors.some((error) => error.code === 401),
        why,
      ).toBe(true);
      expect(facts.arrived, why).toBe(false);
    }, 30_000);
  });

  it("Cloudflare path: our endpoint → our core → (fake) Cloudflare → credentials coturn relays with", async () => {
    const generated = cloudflare.requests.length;
    const facts = await relay(viaCloudflare.origin, { ttl: 600 });
    const why = diagnose(facts);
    expect(facts.provider, why).toBe("cloudflare");
    expect(cloudflare.requests.length - generated, why).toBe(1);
    expect(JSON.parse(cloudflare.requests.at(-1)!.body), why).toEqual({ ttl: 600 });
    expect(facts.usernames[0], why).toMatch(/^\d+:cloudflare-\d+$/);
    expect(facts.urls, why).toEqual([coturn.urls.udp, coturn.urls.tcp, coturn.urls.tls]);
    expect(facts.arrived, why).toBe(true);
    expect(facts.selected, why).toMatchObject({ local: { type: "relay" }, remote: { type: "relay" } });
  }, 30_000);

  it("keepFresh replaces short-lived credentials before they expire; an ICE restart after the expiry still connects", async () => {
    const page = await probePage(good.origin);
    let facts: KeepFreshFacts;
    try {
      facts = (await page.evaluate(`window.e2e.keepFreshRestart({ ttl: 4 })`)) as KeepFreshFacts;
    } finally {
      await page.close();
    }
    const why = diagnose(facts);
    expect(facts.firstArrived, why).toEqual([true, true]);
    expect(facts.failures, why).toEqual([]);

    // Refreshed before the first credentials expired, with credentials that expire later.
    expect(facts.refreshes.length, why).toBeGreaterThanOrEqual(2);
    const first = facts.refreshes[0];
    expect(first.at, why).toBeLessThan(facts.initial.expiresAt);
    expect(first.at - facts.initial.fetchedAt, why).toBeGreaterThanOrEqual(0.7 * 4000);
    expect(first.username, why).not.toBe(facts.initial.username);
    expect(first.expiresAt, why).toBeGreaterThan(facts.initial.expiresAt);
    for (const username of facts.appliedUsernames) expect(username, why).not.toBe(facts.initial.username);
    expect(facts.expiredAt, why).toBeGreaterThan(facts.initial.expiresAt + 1000);

    // After the restart, the kept-fresh pair gathered new relay candidates and moved to one of them.
    expect(
      facts.fresh.newRelays.filter((relay) => relay.side === "a"),
      why,
    ).not.toHaveLength(0);
    expect(facts.fresh.after, why).toMatchObject({ local: { type: "relay" }, remote: { type: "relay" } });
    expect(facts.fresh.after!.local.address, why).not.toBe(facts.fresh.before!.local.address);
    expect(
      facts.fresh.newRelays.map((relay) => relay.address),
      why,
    ).toContain(facts.fresh.after!.local.address);
    expect(
      facts.fresh.errorsAfterRestart.filter((error) => error.code === 401),
      why,
    ).toEqual([]);
    expect(facts.fresh.secondArrived, why).toBe(true);

    // The control pair, on the expired credentials, is refused any new allocation.
    expect(facts.control.newRelays, why).toEqual([]);
    expect(
      facts.control.errorsAfterRestart.some((error) => error.code === 401),
      why,
    ).toBe(true);
    expect(facts.control.after?.local.address, why).toBe(facts.control.before?.local.address);
  }, 40_000);

  describe.concurrent("a relay-only call longer than its credentials: keepFresh with a 5 s TTL for over three lifetimes", () => {
    const TTL = 5;
    const DURATION_MS = 16_000;
    /** A generous bound: messages go every 100 ms, and a restart moves the call without a pause. */
    const MAX_GAP_MS = 2_000;
    /** A refresh this close to the end may not have been restarted for before the call ended. */
    const SETTLE_MS = 3_000;

    async function longCall(
      restartIce: "relayed" | "never",
    ): Promise<{ facts: LongCallFacts; why: string; allocated: string[]; refreshed: LongCallEvent[] }> {
      const page = await probePage(udpOnly.origin);
      let facts: LongCallFacts;
      try {
        facts = (await page.evaluate(
          `window.e2e.longCall(${JSON.stringify({ ttl: TTL, restartIce, durationMs: DURATION_MS })})`,
        )) as LongCallFacts;
      } finally {
        await page.close();
      }
      const ours = new Set([...facts.initialUsernames, ...facts.events.map((event) => event.username)]);
      const allocated = allocatedUsernames(coturn.log()).filter((username) => ours.has(username));
      const why = `${JSON.stringify({ ...facts, allocated }, null, 2)}\n--- coturn log (tail) ---\n${coturn.log().split("\n").slice(-40).join("\n")}`;
      return { facts, why, allocated, refreshed: facts.events.filter((event) => event.kind === "refresh") };
    }

    function expectDataKeptFlowing(facts: LongCallFacts, why: string) {
      expect(facts.opened, why).toBe(true);
      expect(facts.negotiationErrors, why).toEqual([]);
      expect(
        facts.events.filter((event) => event.kind === "error"),
        why,
      ).toEqual([]);
      expect(facts.sent, why).toBeGreaterThan(50);
      expect(facts.received, why).toBe(facts.sent);
      expect(facts.inOrder, why).toBe(true);
      expect(facts.maxGapMs, why).toBeLessThan(MAX_GAP_MS);
    }

    it('restartIce "relayed": each side\'s relays are allocated again under each fresh username, and data never stops', async () => {
      const { facts, why, allocated, refreshed } = await longCall("relayed");
      expectDataKeptFlowing(facts, why);
      // Several refreshes on each side, each followed by a restart the client made by itself.
      for (const side of ["a", "b"] as const) {
        expect(refreshed.filter((event) => event.side === side).length, why).toBeGreaterThanOrEqual(2);
        expect(facts.events.filter((event) => event.kind === "restart" && event.side === side).length, why).toBeGreaterThanOrEqual(1);
      }
      expect(new Set(facts.offers.map((offer) => offer.ufrag)).size, why).toBeGreaterThanOrEqual(3);
      // coturn allocated under the first usernames, then under every fresh one that had time to restart.
      for (const username of facts.initialUsernames) expect(allocated, why).toContain(username);
      const end = Math.max(...facts.events.map((event) => event.at));
      const settled = refreshed.filter((event) => event.at < end - SETTLE_MS);
      expect(settled.length, why).toBeGreaterThanOrEqual(2);
      for (const event of settled) expect(allocated, why).toContain(event.username);
      // And the call moved to new relays (Chrome sometimes keeps one side on its first relay).
      expect(facts.addresses.a.length + facts.addresses.b.length, why).toBeGreaterThanOrEqual(3);
    }, 60_000);

    it('restartIce "never": credentials are refreshed, but no relay is allocated under them', async () => {
      const { facts, why, allocated, refreshed } = await longCall("never");
      // coturn does not enforce expiry on live allocations, so data flows on the old ones.
      expectDataKeptFlowing(facts, why);
      for (const side of ["a", "b"] as const)
        expect(refreshed.filter((event) => event.side === side).length, why).toBeGreaterThanOrEqual(2);
      expect(
        facts.events.filter((event) => event.kind === "restart"),
        why,
      ).toEqual([]);
      expect(new Set(allocated), why).toEqual(new Set(facts.initialUsernames));
      expect(facts.addresses.a, why).toHaveLength(1);
    }, 60_000);

    it("the self-test page's long-call check passes, listing each side's refreshes, restarts and new relayed addresses", async () => {
      const page = await context.newPage();
      try {
        await page.goto(`${udpOnly.origin}/?long-call&long-ttl=4`);
        await page.locator('#long-result:is([data-state="pass"], [data-state="fail"])').waitFor({ timeout: 45_000 });
        const why = `${await page.locator("body").innerText()}\n${coturn.log().split("\n").slice(-20).join("\n")}`;
        expect(await page.locator("#result").innerText(), why).toBe("PASS");
        expect(await page.locator("#long-result").innerText(), why).toBe("PASS");
        expect(await page.locator("#long-summary").innerText(), why).toContain("The call outlived its credentials");
        expect(await page.locator("#long-data").innerText(), why).toMatch(/^(\d+) of \1 arrived, in order; longest gap \d+ ms$/);
        const events = await page.locator("#long-events li").allInnerTexts();
        for (const side of ["caller", "callee"]) {
          const mine = events.filter((event) => event.includes(`, ${side}: `));
          expect(mine.filter((event) => event.endsWith("fresh credentials, 4 s")).length, why).toBeGreaterThanOrEqual(2);
          expect(
            mine.some((event) => event.endsWith("ICE restart")),
            why,
          ).toBe(true);
        }
        expect(
          events.some((event) => /relayed address \S+ → \S+$/.test(event)),
          why,
        ).toBe(true);
        mkdirSync(RESULTS, { recursive: true });
        await page.screenshot({ path: join(RESULTS, "selftest-long-call.png"), fullPage: true });
      } finally {
        await page.close();
      }
    }, 60_000);
  });

  describe("the self-test page", () => {
    it("served at / by npm start, shows PASS with a relay candidate for each URL; screenshot saved", async () => {
      const page = await context.newPage();
      try {
        await page.goto(`${good.origin}/`);
        await page.locator('#result:not([data-state="running"])').waitFor({ timeout: 20_000 });
        const rows = page.locator("#url-rows tr");
        const why = `${await page.locator("body").innerText()}\n${coturn.log().split("\n").slice(-20).join("\n")}`;
        expect(await page.locator("#result").getAttribute("data-state"), why).toBe("pass");
        expect(await page.locator("#result").innerText(), why).toBe("PASS");
        expect(await page.locator("#provider").innerText()).toBe("shared-secret");
        expect(await page.locator("#message").innerText()).toBe("arrived through 3 of 3 TURN URLs");
        expect(await page.locator("#summary").innerText()).toContain("on every URL (3), relay to relay");
        const table = await rows.evaluateAll((trs) =>
          trs.map((tr) => ({
            url: tr.children[0].textContent,
            transport: tr.children[1].textContent,
            relay: (tr as HTMLElement).dataset.relay,
            arrived: (tr as HTMLElement).dataset.arrived,
            pair: tr.children[4].textContent,
          })),
        );
        expect(table, why).toEqual([
          { url: coturn.urls.udp, transport: "udp", relay: "true", arrived: "true", pair: "relay ⇄ relay over udp" },
          { url: coturn.urls.tcp, transport: "tcp", relay: "true", arrived: "true", pair: "relay ⇄ relay over tcp" },
          { url: coturn.urls.tls, transport: "tls", relay: "true", arrived: "true", pair: "relay ⇄ relay over tls" },
        ]);

        mkdirSync(RESULTS, { recursive: true });
        const screenshot = join(RESULTS, "selftest.png");
        await page.screenshot({ path: screenshot, fullPage: true });
        // The README's copy is refreshed only on request, so a test run leaves the tree clean.
        if (!existsSync(DOCS_SCREENSHOT) || process.env.UPDATE_SCREENSHOT === "1") {
          mkdirSync(join(ROOT, "docs"), { recursive: true });
          copyFileSync(screenshot, DOCS_SCREENSHOT);
        }
      } finally {
        await page.close();
      }
    }, 30_000);

    it("tests one transport with ?transport=, and shows FAIL with the reason for refused credentials", async () => {
      const [tlsOnly, refused] = await Promise.all([context.newPage(), context.newPage()]);
      try {
        await Promise.all([tlsOnly.goto(`${good.origin}/?transport=tls`), refused.goto(`${wrong.origin}/`)]);
        for (const page of [tlsOnly, refused]) await page.locator('#result:not([data-state="running"])').waitFor({ timeout: 20_000 });

        expect(await tlsOnly.locator("#result").innerText(), await tlsOnly.locator("body").innerText()).toBe("PASS");
        expect(await tlsOnly.locator("#url-rows tr td:first-child").allInnerTexts()).toEqual([coturn.urls.tls]);
        expect(await tlsOnly.locator("#url-rows tr td:nth-child(5)").allInnerTexts()).toEqual(["relay ⇄ relay over tls"]);

        expect(await refused.locator("#result").innerText()).toBe("FAIL");
        expect(await refused.locator("#summary").innerText()).toContain("refused the credentials (401)");
        expect(await refused.locator("#message").innerText()).toBe("arrived through 0 of 3 TURN URLs");
        expect(await refused.locator('#url-rows tr[data-relay="false"]').count()).toBe(3);
      } finally {
        await Promise.all([tlsOnly.close(), refused.close()]);
      }
    }, 30_000);

    it("serves only its own files, with their content types, and leaves other paths to the service", async () => {
      const html = await fetch(`${good.origin}/`);
      expect(html.status).toBe(200);
      expect(html.headers.get("content-type")).toBe("text/html; charset=utf-8");
      for (const path of ["/selftest.js", "/turn-client.js"]) {
        const js = await fetch(`${good.origin}${path}`);
        expect(js.status).toBe(200);
        expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
      }
      for (const path of [
        "/package.json",
        "/client/turn-client.js",
        "/selftest/index.html",
        "/..%2fpackage.json",
        "/%2e%2e/package.json",
      ]) {
        const response = await fetch(`${good.origin}${path}`);
        expect(response.status, path).toBe(404);
        expect((await response.json()).error.code, path).toBe("not_found");
      }
      expect((await fetch(`${good.origin}/api/ice-servers`)).status).toBe(200);
    });
  });
});
