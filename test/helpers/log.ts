/** A logger for the core that keeps every line, for tests to read. */
export function captureLog(): { lines: string[]; warn(message: string): void; error(message: string): void } {
  const lines: string[] = [];
  return { lines, warn: (message) => void lines.push(message), error: (message) => void lines.push(message) };
}
