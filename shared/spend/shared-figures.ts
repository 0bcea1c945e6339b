/**
 * Usage figures shared through the rate-limit store (Redis or Upstash), so that a fleet reads each
 * provider's usage about once per TURN_USAGE_REFRESH_S, whatever the number of instances.
 */

/** What a store that can share figures offers: one round trip each. */
export interface SharedFigures {
  /**
   * The figure stored under `key` (its JSON text, or undefined), and whether this caller holds the
   * lease to read a new one: at most one caller gets it per `leaseMs`, fleet-wide.
   */
  claim(key: string, leaseMs: number, until: number): Promise<{ stored?: string; lease: boolean }>;
  /** Stores a figure for `ttlMs`. */
  put(key: string, value: string, ttlMs: number, until: number): Promise<void>;
}

export const FIGURE_KEY_PREFIX = "turn-vend:usage:";

/** KEYS[1] the figure, KEYS[2] the lease; ARGV[1] the lease's length in ms. */
export const CLAIM_SCRIPT = `local stored = redis.call('GET', KEYS[1])
local lease = redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1])
if lease then lease = 1 else lease = 0 end
return {stored or '', lease}`;

export const leaseKeyOf = (key: string) => `${key}:lease`;

/** The claim script's reply, as either store hands it back. */
export function claimOf(reply: unknown): { stored?: string; lease: boolean } {
  if (!Array.isArray(reply) || reply.length !== 2) throw new Error("the store answered the claim with an unexpected shape");
  const [stored, lease] = reply;
  return { stored: typeof stored === "string" && stored !== "" ? stored : undefined, lease: Number(lease) === 1 };
}
