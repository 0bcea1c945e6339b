/**
 * The facts test/e2e/probes.js's startCall/endCall returns about a long relay-only call, and the
 * readings the end-to-end tests judge them by (gaps, each side's ICE generation over time).
 */
export type Side = "a" | "b";
export const SIDES: readonly Side[] = ["a", "b"];

export interface CallEvent {
  side: Side;
  kind: "refresh" | "restart" | "error" | "state";
  at: number;
  username?: string;
  reason?: string;
  code?: string;
  message?: string;
  state?: string;
}

export interface CallSample {
  side: Side;
  at: number;
  /** The side's current local ufrag. */
  current?: string;
  signaling: string;
  ice: string;
  selected?: { address: string; type?: string; ufrag?: string };
}

export interface CallFacts {
  crashed?: string;
  opened: boolean;
  startedAt: number;
  endedAt: number;
  initialUsernames: string[];
  /** When each message (its index) was sent. */
  sends: number[];
  arrivals: { seq: number; at: number }[];
  final: Record<Side, string>;
  offers: { side: Side; at: number; ufrag?: string }[];
  negotiationErrors: string[];
  candidateErrors: { side: Side; at: number; url?: string; code: number; text?: string }[];
  events: CallEvent[];
  samples: CallSample[];
  /** When each side's local ufrag was first seen. */
  generations: { side: Side; ufrag: string; at: number }[];
}

/** The longest time without an arrival, from the start of sending to its end. */
export function maxGapMs(facts: CallFacts): number {
  const times = [facts.startedAt, ...facts.arrivals.map((arrival) => arrival.at), facts.endedAt];
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
  return gap;
}

export const inOrder = (facts: CallFacts) => facts.arrivals.every((arrival, index) => arrival.seq === index);

/** Whether a sample shows its side's selected local candidate in the side's current ICE generation. */
export const onCurrentGeneration = (sample: CallSample) => sample.selected?.ufrag !== undefined && sample.selected.ufrag === sample.current;

/** The longest stretch, per side, over which consecutive samples showed the side off its current generation. */
export function longestStaleMs(facts: CallFacts, side: Side): number {
  let longest = 0;
  let since: number | undefined;
  for (const sample of facts.samples.filter((entry) => entry.side === side)) {
    if (onCurrentGeneration(sample)) since = undefined;
    else {
      since ??= sample.at;
      longest = Math.max(longest, sample.at - since);
    }
  }
  return longest;
}

/**
 * Each refresh that had `settleMs` left before the call ended, with how soon after it the side
 * that refreshed was first seen on its current generation, born at or after the refresh (undefined
 * if not within `settleMs`): the proof that it moved to relays gathered under the fresh servers,
 * by its own restart or by answering the other side's.
 */
export function movesAfterRefreshes(facts: CallFacts, settleMs: number) {
  const born = (side: Side, ufrag: string | undefined) =>
    facts.generations.find((entry) => entry.side === side && entry.ufrag === ufrag)?.at;
  return facts.events
    .filter((event) => event.kind === "refresh" && event.at + settleMs < facts.endedAt)
    .map((refresh) => {
      const moved = facts.samples.find(
        (sample) =>
          sample.side === refresh.side &&
          sample.at > refresh.at &&
          sample.at <= refresh.at + settleMs &&
          onCurrentGeneration(sample) &&
          // The same millisecond: keepFresh restarts right after onRefresh.
          (born(refresh.side, sample.current) ?? 0) >= refresh.at,
      );
      return { side: refresh.side, at: refresh.at, movedAfterMs: moved && moved.at - refresh.at };
    });
}

/** The first arrival of a message sent at or after `at`, in ms after `at` (undefined if none). */
export function recoveredAfterMs(facts: CallFacts, at: number): number | undefined {
  const first = facts.arrivals.find((arrival) => facts.sends[arrival.seq] >= at);
  return first && first.at - at;
}

/** A short account of a call, for the failure message and the measured facts. */
export function summary(facts: CallFacts, settleMs: number) {
  return {
    durationMs: facts.endedAt - facts.startedAt,
    sent: facts.sends.length,
    received: facts.arrivals.length,
    maxGapMs: maxGapMs(facts),
    refreshes: facts.events.filter((event) => event.kind === "refresh").length,
    restarts: facts.events.filter((event) => event.kind === "restart").map((event) => `${event.side}:${event.reason ?? "?"}`),
    errors: facts.events.filter((event) => event.kind === "error").map((event) => `${event.side}:${event.code}`),
    generations: Object.fromEntries(SIDES.map((side) => [side, facts.generations.filter((entry) => entry.side === side).length])),
    longestStaleMs: Object.fromEntries(SIDES.map((side) => [side, longestStaleMs(facts, side)])),
    moves: movesAfterRefreshes(facts, settleMs).map((move) => `${move.side}@${move.at - facts.startedAt}+${move.movedAfterMs}`),
    final: facts.final,
  };
}
