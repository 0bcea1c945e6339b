/** The calendar month in UTC that `nowMs` falls in, as the providers that count by month count it. */
export function monthOf(nowMs: number): { key: string; startMs: number; endMs: number } {
  const now = new Date(nowMs);
  const startMs = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const endMs = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  return { key: new Date(startMs).toISOString().slice(0, 7), startMs, endMs };
}

/** Whole seconds until the next month begins in UTC: when a monthly figure starts again from zero. */
export function secondsToNextMonth(nowMs: number): number {
  return Math.max(1, Math.ceil((monthOf(nowMs).endMs - nowMs) / 1000));
}
