/**
 * When each repeating operator event was last logged: such a failure repeats on every request
 * until it is fixed, and once per period tells the operator as much without flooding the log.
 * One per service instance (shared/service.ts).
 */
export function operatorReports(maxKeys = 1000) {
  const reportedAt = new Map<string, number>();
  return {
    /** Whether the event under `key` is due, at most once per `everyMs`; noting it if so. */
    due(key: string, everyMs: number, now: number): boolean {
      const last = reportedAt.get(key);
      if (last !== undefined && now - last < everyMs) return false;
      if (reportedAt.size >= maxKeys) reportedAt.clear();
      reportedAt.set(key, now);
      return true;
    },
  };
}

export type OperatorReports = ReturnType<typeof operatorReports>;
