/**
 * Callers (addresses and users) this instance has seen go over their allowance, each
 * until the Retry-After it was given: the next request from one is refused without a
 * store round trip, and an address before its token is even read. Only a shortcut: what
 * it forgets (when full) the store still refuses.
 */
export function overLimitCallers(maxKeys = 10_000) {
  const until = new Map<string, number>();
  return {
    note(key: string, retryAfterMs: number, now = Date.now()): void {
      until.delete(key);
      // The oldest note ends about first: drop ended ones from the front, never scan.
      for (let i = 0; i < 2; i += 1) {
        const first = until.entries().next().value;
        if (!first || first[1] > now) break;
        until.delete(first[0]);
      }
      if (until.size < maxKeys) until.set(key, now + retryAfterMs);
    },
    /** Milliseconds until `key` may ask again, or 0. */
    refusedFor(key: string, now = Date.now()): number {
      const end = until.get(key);
      if (end === undefined) return 0;
      if (end > now) return end - now;
      until.delete(key);
      return 0;
    },
  };
}

export type OverLimitCallers = ReturnType<typeof overLimitCallers>;
