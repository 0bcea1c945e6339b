/**
 * Runs around every test file: records each console line, and after the file
 * fails it if any line carries a secret the file configured (see helpers/secrets.ts).
 * Responses are scanned by the suites themselves; dev servers' output too.
 */
import { afterAll, expect } from "vitest";
import { registeredSecrets } from "../helpers/secrets.ts";

const lines: string[] = [];
for (const method of ["log", "info", "warn", "error", "debug"] as const) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    lines.push(args.map((arg) => (typeof arg === "string" ? arg : arg instanceof Error ? `${arg.name}: ${arg.message}` : JSON.stringify(arg) ?? String(arg))).join(" "));
    original(...args);
  };
}

afterAll(() => {
  const leaks: string[] = [];
  for (const value of registeredSecrets()) {
    for (const line of lines) if (line.includes(value)) leaks.push(line.slice(0, 200));
  }
  expect(leaks, "log lines that carry a configured secret").toEqual([]);
});
