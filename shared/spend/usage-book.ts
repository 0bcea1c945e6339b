/**
 * One instance's usage figures: each read at most once per refresh period, by one shared promise
 * however many requests want it, and kept while newer readings fail. Created once per service
 * instance (shared/service.ts).
 */
import { withinTime } from "../upstream/upstream.ts";

/** A figure and when it was read (milliseconds since the epoch), by whichever instance read it. */
export interface Reading<T> {
  readonly value: T;
  readonly readAt: number;
}

interface Entry<T> {
  reading?: Reading<T>;
  /** Whether the last read failed (an error, a timeout, a shape not trusted). */
  failed: boolean;
  /** When the last read began: the next may begin a refresh period later, whatever its outcome. */
  startedAt: number;
  pending?: Promise<Reading<T> | undefined>;
}

export interface LookupOptions<T> {
  now: number;
  refreshMs: number;
  /** A reading older than this does not stand: the request waits for a new one as if it had none. */
  maxAgeMs: number;
  /** How long a request may wait for a read when it has no reading at all. */
  waitMs: number;
  /** A new reading, or undefined when another instance holds the lease and has none to share yet. */
  read(): Promise<Reading<T> | undefined>;
  /** Told of a read that may outlive the request that began it, for a host that would cancel it. */
  keepAlive?: (work: Promise<unknown>) => void;
}

const MAX_ENTRIES = 1000;
// When another instance holds the lease and has shared nothing yet, the store is asked again this soon.
const RETRY_SHARED_MS = 2000;

export function usageBook() {
  const entries = new Map<string, Entry<unknown>>();

  function start<T>(entry: Entry<T>, options: LookupOptions<T>): void {
    entry.startedAt = options.now;
    const pending = options
      .read()
      .then((reading) => {
        entry.failed = false;
        if (reading === undefined) entry.startedAt -= options.refreshMs - RETRY_SHARED_MS;
        // A reading older than the one held (another instance's, from the store) is not a step back.
        else if (!entry.reading || reading.readAt >= entry.reading.readAt) entry.reading = reading;
        return entry.reading;
      })
      .catch(() => {
        entry.failed = true;
        return entry.reading;
      })
      .finally(() => {
        if (entry.pending === pending) entry.pending = undefined;
      });
    entry.pending = pending;
    options.keepAlive?.(pending);
  }

  return {
    /**
     * The reading for `key`: what is held, at once (a read starts behind it when one is due), or,
     * with nothing held, the read in flight for at most `waitMs`. Never rejects.
     */
    async lookup<T>(key: string, options: LookupOptions<T>): Promise<{ reading?: Reading<T>; failed: boolean }> {
      let entry = entries.get(key) as Entry<T> | undefined;
      if (!entry) {
        if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
        entry = { startedAt: -Infinity, failed: false };
        entries.set(key, entry as Entry<unknown>);
      }
      const standing = (held: Entry<T>) => {
        const { reading } = held;
        return { reading: reading && options.now - reading.readAt <= options.maxAgeMs ? reading : undefined, failed: held.failed };
      };
      const since = options.now - entry.startedAt;
      // A read still pending two periods on was lost (a host that froze it after its answer): start anew.
      if (since >= options.refreshMs && (!entry.pending || since >= 2 * options.refreshMs)) start(entry, options);
      const now = standing(entry);
      if (now.reading || !entry.pending || options.waitMs <= 0) return now;
      try {
        await withinTime(entry.pending, options.waitMs, () => new Error("the usage read is still under way"));
      } catch {
        // Still under way: the request goes on without it.
      }
      return standing(entry);
    },
  };
}

export type UsageBook = ReturnType<typeof usageBook>;
