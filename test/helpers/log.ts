import type { Logger } from "../../shared/log.ts";
import { recordLine } from "./scanned-lines.ts";

/** A logger for the core that keeps every line, for tests to read; the secret scan reads them too. */
export function captureLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (message: string) => {
    lines.push(message);
    recordLine(message);
  };
  return { lines, warn: keep, error: keep };
}

/** A logger that prints nothing, for tests whose point is elsewhere; the secret scan still reads its lines. */
export function quietLog(): Logger {
  return { warn: recordLine, error: recordLine };
}
