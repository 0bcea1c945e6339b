/**
 * Every line a test file's code logged, wherever it went: the console, or a logger handed
 * to the core. test/setup/secret-scan.ts checks them all for configured secrets, so a test
 * that silences the core's logger still has its lines scanned.
 */
const lines: string[] = [];

export function recordLine(line: string): void {
  lines.push(line);
}

export function recordedLines(): readonly string[] {
  return lines;
}
