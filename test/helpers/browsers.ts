/**
 * The end-to-end tests' browsers, behind one small interface: Chromium through playwright-core
 * (CDP), and Debian's Firefox ESR through puppeteer-core over WebDriver BiDi (playwright drives
 * only its own patched Firefox builds). Each page is a blank page of the service's origin with
 * test/e2e/probes.js loaded.
 */
import { type BrowserContext, chromium } from "playwright-core";
import puppeteer, { type Browser } from "puppeteer-core";

import { CHROMIUM, CHROMIUM_ARGS } from "./chromium.ts";

export { CHROMIUM, CHROMIUM_ARGS };
export const FIREFOX = "/usr/bin/firefox-esr";

const FIREFOX_PREFS = {
  // Without it Firefox gathers nothing on loopback, where coturn and the test's relays are.
  "media.peerconnection.ice.loopback": true,
  "media.navigator.permission.disabled": true,
};

export const ENGINES = ["chromium", "firefox"] as const;
export type EngineName = (typeof ENGINES)[number];

export interface ProbePage {
  evaluate(expression: string): Promise<unknown>;
  close(): Promise<void>;
}

export interface Engine {
  name: EngineName;
  /** A blank page of `origin` (served by the test, not the service) with `script` added. */
  probePage(origin: string, script: string): Promise<ProbePage>;
  close(): Promise<void>;
}

const BLANK = "<!doctype html><title>e2e</title>";
const BLANK_PATH = "/e2e-blank";

/** What playwright's and puppeteer's pages share, as the probes use it. */
interface DriverPage {
  goto(url: string): Promise<unknown>;
  addScriptTag(options: { content: string }): Promise<unknown>;
  evaluate(expression: string): Promise<unknown>;
  close(): Promise<void>;
}

/** Opens the blank page of `origin` (answered by the driver, not the service) and adds `script`. */
async function loadProbes(page: DriverPage, origin: string, script: string): Promise<ProbePage> {
  await page.goto(`${origin}${BLANK_PATH}`);
  await page.addScriptTag({ content: script });
  return { evaluate: (expression) => page.evaluate(expression), close: () => page.close() };
}

export async function launchChromium(profile: string): Promise<Engine & { context: BrowserContext }> {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1000, height: 700 },
    timeout: 30_000,
  });
  return {
    name: "chromium",
    context,
    async probePage(origin, script) {
      const page = await context.newPage();
      await page.route(`${origin}${BLANK_PATH}`, (route) =>
        route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: BLANK }),
      );
      return loadProbes(page, origin, script);
    },
    close: () => context.close(),
  };
}

export async function launchFirefox(profile: string): Promise<Engine & { browser: Browser }> {
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profile,
    extraPrefsFirefox: FIREFOX_PREFS,
    timeout: 60_000,
    protocolTimeout: 180_000,
  });
  return {
    name: "firefox",
    browser,
    async probePage(origin, script) {
      const page = await browser.newPage();
      await page.setRequestInterception(true);
      page.on("request", (request) => {
        if (request.url() === `${origin}/e2e-blank`) request.respond({ status: 200, contentType: "text/html; charset=utf-8", body: BLANK });
        else request.continue();
      });
      await page.goto(`${origin}/e2e-blank`);
      await page.addScriptTag({ content: script });
      return { evaluate: (expression) => page.evaluate(expression), close: () => page.close() };
    },
    close: () => browser.close(),
  };
}
