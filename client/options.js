// Every option of keepFresh and createIceSource is checked when it is called: a wrong type or a
// value out of range throws at once, not hours later in a timer.
import { checkTimeout, checkTtl, DEFAULT_TIMEOUT_MS, MAX_TIMER_MS } from "./fetch-ice-servers.js";

export const RESTART_MODES = ["relayed", "always", "never"];

/** The defaults, in one place for the code and (by hand) turn-client.d.ts and docs/client.md. */
export const DEFAULTS = {
  revokeOnClose: false,
  restartIce: "relayed",
  refreshAt: 0.8,
  jitter: 0.1,
  minRefreshMs: 5_000,
  minRetryMs: 1_000,
  maxRetryMs: 60_000,
  refusedRetryMs: 600_000,
  closeCheckMs: 1_000,
  disconnectedGraceMs: 2_000,
  verifyAfterMs: 2_000,
  maxStaleRestarts: 2,
  maxRecoveries: 5,
  timeoutMs: DEFAULT_TIMEOUT_MS,
};

function checkFraction(name, value, low, high) {
  if (typeof value !== "number" || !(value >= low && value <= high)) {
    throw new RangeError(`${name} must be a number from ${low} to ${high}`);
  }
}

function checkMs(name, value, low) {
  if (typeof value !== "number" || !(value >= low && value <= MAX_TIMER_MS)) {
    throw new RangeError(`${name} must be a number of milliseconds from ${low} to ${MAX_TIMER_MS}`);
  }
}

function checkCount(name, value) {
  if (!(Number.isInteger(value) && value >= 0 && value <= 100)) throw new RangeError(`${name} must be a whole number from 0 to 100`);
}

export function checkPeerConnection(pc, what) {
  if (!pc || typeof pc.getConfiguration !== "function" || typeof pc.setConfiguration !== "function") {
    throw new TypeError(`${what} needs an RTCPeerConnection`);
  }
}

/** Checks the options and returns them with the defaults filled in. */
export function sourceOptions(options) {
  const merged = { ...DEFAULTS };
  for (const [name, value] of Object.entries(options)) if (value !== undefined) merged[name] = value;
  const { initial, endpoint, ttl, signal, revokeOnClose, restartIce } = merged;
  checkTtl(ttl);
  if (endpoint !== undefined && typeof endpoint !== "string") throw new TypeError("endpoint must be a string");
  if (
    initial !== undefined &&
    !(
      initial &&
      Number.isFinite(initial.ttl) &&
      initial.ttl > 0 &&
      initial.fetchedAt instanceof Date &&
      Array.isArray(initial.config?.iceServers)
    )
  ) {
    throw new TypeError("initial must be an answer of getIceServers");
  }
  if (signal !== undefined && !(signal && typeof signal.aborted === "boolean" && typeof signal.addEventListener === "function")) {
    throw new TypeError("signal must be an AbortSignal");
  }
  if (typeof revokeOnClose !== "boolean") throw new TypeError("revokeOnClose must be true or false");
  if (!RESTART_MODES.includes(restartIce)) throw new RangeError(`restartIce must be one of ${RESTART_MODES.join(", ")}`);
  for (const name of ["fetch", "random", "onRefresh", "onRestart", "onError"]) {
    if (merged[name] !== undefined && typeof merged[name] !== "function") throw new TypeError(`${name} must be a function`);
  }
  checkFraction("refreshAt", merged.refreshAt, 0.05, 0.95);
  checkFraction("jitter", merged.jitter, 0, 0.5);
  checkMs("minRefreshMs", merged.minRefreshMs, 0);
  checkMs("minRetryMs", merged.minRetryMs, 1);
  checkMs("maxRetryMs", merged.maxRetryMs, merged.minRetryMs);
  checkMs("refusedRetryMs", merged.refusedRetryMs, 1);
  checkMs("closeCheckMs", merged.closeCheckMs, 1);
  checkMs("disconnectedGraceMs", merged.disconnectedGraceMs, 0);
  checkMs("verifyAfterMs", merged.verifyAfterMs, 0);
  checkCount("maxStaleRestarts", merged.maxStaleRestarts);
  checkCount("maxRecoveries", merged.maxRecoveries);
  checkTimeout(merged.timeoutMs);
  return merged;
}
