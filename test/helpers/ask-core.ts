import { expect } from "vitest";
import { createService } from "../../shared/service.ts";
import { captureLog } from "./log.ts";
import { registeredSecrets } from "./secrets.ts";

// This file's own instance of the service.
const { handle } = createService();

/**
 * One request through the core's handle(), with its log kept; fails the test if the answer's
 * body, its headers or the log holds any secret this test file registered.
 */
export async function askCore(env: Record<string, string>, path = "/api/ice-servers?ttl=900", init: RequestInit = {}) {
  const log = captureLog();
  const response = await handle(new Request(`https://site.example${path}`, init), env, { log });
  const text = await response.text();
  const everything = [text, ...log.lines, ...[...response.headers].map(([name, value]) => `${name}: ${value}`)].join("\n");
  for (const value of registeredSecrets()) expect(everything).not.toContain(value);
  return { response, status: response.status, body: text ? JSON.parse(text) : undefined, lines: log.lines };
}
