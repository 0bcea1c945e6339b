// Timers armed from an absolute due time on this device's wall clock, and the backoff between tries.
import { MAX_TIMER_MS } from "./fetch-ice-servers.js";

/**
 * One pending run of `run` at a wall-clock time. A delay over 2^31-1 ms would fire at once, and a
 * sleeping device wakes its timers late, not early: so the timer is re-armed when it wakes early,
 * and `catchUp()` (called on the page's wake-up events and by a poll) runs an overdue one now.
 */
export function createDueTimer(run) {
  let dueAt;
  let timer;
  function arm() {
    clearTimeout(timer);
    timer = setTimeout(onTimer, Math.min(MAX_TIMER_MS, Math.max(0, dueAt - Date.now())));
  }
  function onTimer() {
    if (dueAt === undefined) return;
    if (Date.now() < dueAt) arm();
    else fire();
  }
  function fire() {
    clearTimeout(timer);
    dueAt = undefined;
    run();
  }
  return {
    at(at) {
      dueAt = Math.max(Date.now(), Math.round(at));
      arm();
    },
    /** Runs now if the due time has passed; returns whether it ran. */
    catchUp() {
      if (dueAt === undefined || Date.now() < dueAt) return false;
      fire();
      return true;
    },
    /** Runs now whatever the due time, if one is pending. */
    now() {
      if (dueAt !== undefined) fire();
    },
    get pending() {
      return dueAt !== undefined;
    },
    clear() {
      clearTimeout(timer);
      dueAt = undefined;
    },
  };
}

/** `base` × 2^(attempt−1), at most `max`, spread by ±jitter. */
export function backoff(attempt, { base, max, spread }) {
  return Math.round(Math.min(max, base * 2 ** (attempt - 1)) * spread());
}
