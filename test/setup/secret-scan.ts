/**
 * Runs around every test file: records each console line (beside the lines the test
 * loggers in helpers/log.ts record), and after the file fails it if any line carries a
 * secret the file configured (see helpers/secrets.ts).
 * Responses are scanned by the suites themselves; dev servers' output too.
 */
import { afterAll, expect } from "vitest";
import { recordedLines, recordLine } from "../helpers/scanned-lines.ts";
import { registeredSecrets } from "../helpers/secrets.ts";

for (const method of ["log", "info", "warn", "error", "debug"] as const) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    recordLine(
      args
        .map((arg) =>
          typeof arg === "string" ? arg : arg instanceof Error ? `${arg.name}: ${arg.message}` : (JSON.stringify(arg) ?? String(arg)),
        )
        .join(" "),
    );
    original(...args);
  };
}

afterAll(() => {
  const leaks: string[] = [];
  for (const value of registeredSecrets()) {
    for (const line of recordedLines()) if (line.includes(value)) leaks.push(line.slice(0, 200));
  }
  expect(leaks, "log lines that carry a configured secret").toEqual([]);
});
