// One stream of fresh ICE servers for one or more peer connections: fetches once per period,
// applies each answer to every attached connection, and revokes when the last one closes.
import { needsTurn, watchConnection } from "./connection.js";
import { getIceServers, hasTurnUrl, resolveHeaders } from "./fetch-ice-servers.js";
import { IceServersError, isRetryable } from "./ice-servers-error.js";
import { checkPeerConnection, sourceOptions } from "./options.js";
import { createTokenStore } from "./revoke.js";
import { backoff, createDueTimer } from "./schedule.js";

/** Lifetimes above Cloudflare's limit (48 h, also the server's TURN_TTL cap) are not believed. */
const MAX_BELIEVED_TTL_S = 172_800;

/**
 * Keeps fresh ICE servers for the connections attached to it: fetches at about `refreshAt` (80%) of
 * their lifetime, jittered by ±`jitter` (10%), applies them to each connection, restarts ICE as
 * `restartIce` says, checks that each side moved to its new relays, and recovers connections
 * whose ICE failed. See docs/client.md.
 */
export function createIceSource(options = {}) {
  const settings = sourceOptions(options);
  const { initial, revokeOnClose, refreshAt, jitter, minRefreshMs, minRetryMs, maxRetryMs, refusedRetryMs, closeCheckMs } = settings;
  const { random = Math.random, signal, onRefresh, onRestart, onError, headers, timeoutMs } = settings;
  const fetchOptions = {};
  for (const name of ["endpoint", "ttl", "fetch", "headers", "timeoutMs"]) {
    if (settings[name] !== undefined) fetchOptions[name] = settings[name];
  }

  let current = initial;
  let stopped = false;
  let busy = false;
  let failures = 0;
  let warned = false;
  /** No request before this (a Retry-After, or a refusal that asking again will not change). */
  let notBefore = 0;
  let inflight;
  let closeCheck;
  let revoking = Promise.resolve();
  let waiters = [];
  const connections = new Set();

  const spread = () => 1 + jitter * (2 * random() - 1);
  const report = (error, info = { attempt: failures, retryInMs: undefined }) => {
    try {
      onError?.(error, info);
    } catch {}
  };
  const tokens = createTokenStore({ fetchOptions, headers, report: (error) => report(error) });
  tokens.remember(initial);
  const timer = createDueTimer(refresh);

  // Expiry on this device's clock: the lifetime measured from when the request was sent,
  // so a device whose clock is wrong still refreshes in time.
  const lifetimeMs = (result) => Math.min(result.ttl, MAX_BELIEVED_TTL_S) * 1000;
  const expiresAtMs = (result) => result.fetchedAt.getTime() + lifetimeMs(result);

  function scheduleRefresh(result) {
    const fraction = Math.min(0.95, refreshAt * spread());
    if (lifetimeMs(result) * refreshAt * (1 - jitter) < minRefreshMs && !warned) {
      warned = true;
      globalThis.console?.warn?.(
        `keepFresh: credentials that last ${result.ttl} s are refreshed every ${minRefreshMs} ms (minRefreshMs) at most, so they expire between refreshes; ask for a longer ttl`,
      );
    }
    timer.at(result.fetchedAt.getTime() + Math.max(lifetimeMs(result) * fraction, minRefreshMs));
  }

  function scheduleRetry(error) {
    const now = Date.now();
    if (!isRetryable(error, { headersFromFunction: typeof headers === "function" })) {
      // The same request would be refused the same way (origin not allowed, bad ttl): ask again
      // only much later, in case the server's configuration changes.
      notBefore = now + refusedRetryMs;
      report(error, { attempt: failures, retryInMs: refusedRetryMs });
      timer.at(notBefore);
      return;
    }
    let delay = backoff(failures, { base: minRetryMs, max: maxRetryMs, spread });
    // The server's Retry-After wins over the backoff, maxRetryMs included: sooner would be refused.
    if (error?.retryAfter !== undefined) delay = Math.max(delay, error.retryAfter * 1000);
    if (current) {
      // Never let the credentials in use expire without one last attempt, early enough for a
      // request that takes all of timeoutMs to come back before they do.
      const lead = Math.min(timeoutMs + 1_000, (lifetimeMs(current) * (1 - refreshAt)) / 2);
      const lastChance = expiresAtMs(current) - lead;
      if (now < lastChance && now + delay > lastChance) delay = lastChance - now;
    }
    delay = Math.max(0, Math.round(delay));
    notBefore = error?.retryAfter !== undefined ? now + delay : 0;
    report(error, { attempt: failures, retryInMs: delay });
    timer.at(now + delay);
  }

  // Never trade working TURN servers for a worse answer: a STUN-only fallback (`degraded`), or
  // no TURN URL for a connection that is relay-only or relayed.
  async function isWorse(result) {
    const turnNow =
      (current !== undefined && hasTurnUrl(current.config.iceServers)) ||
      [...connections].some((handle) => hasTurnUrl(handle.pc.getConfiguration().iceServers));
    if (!turnNow) return false;
    if (result.degraded) return true;
    if (hasTurnUrl(result.config.iceServers)) return false;
    for (const handle of connections) if (await needsTurn(handle.pc)) return true;
    return false;
  }

  function failed(error) {
    failures += 1;
    scheduleRetry(error);
    for (const handle of connections) handle.fetchFailed();
  }

  async function refresh() {
    if (stopped) return;
    pollConnections();
    if (stopped) return;
    busy = true;
    inflight = new AbortController();
    let result;
    try {
      const requestHeaders = await resolveHeaders(headers);
      if (stopped) return;
      tokens.headersResolved(requestHeaders);
      result = await getIceServers({ ...fetchOptions, headers: requestHeaders, signal: inflight.signal });
    } catch (error) {
      if (!stopped) failed(error);
      return;
    } finally {
      busy = false;
      inflight = undefined;
    }
    tokens.remember(result);
    pollConnections();
    if (stopped) return;
    const worse = await isWorse(result);
    if (stopped) return;
    if (worse) {
      const why = result.degraded ? "a degraded (STUN-only) answer" : "an answer without a TURN URL";
      return failed(new IceServersError("worse_answer", `kept the current TURN servers instead of ${why}`, { status: 200 }));
    }
    current = result;
    failures = 0;
    notBefore = 0;
    scheduleRefresh(result);
    for (const handle of [...connections]) handle.apply(result);
    try {
      onRefresh?.(result);
    } catch {}
    for (const resolve of waiters) resolve(result);
    waiters = [];
  }

  /** For a recovery: fetch now unless a refusal or Retry-After forbids it; returns whether one is on its way. */
  function refreshNow() {
    if (stopped || Date.now() < notBefore) return false;
    if (!busy) timer.at(Date.now());
    return true;
  }

  function pollConnections() {
    for (const handle of [...connections]) handle.poll();
  }

  function release(handle) {
    connections.delete(handle);
    handle.dispose();
  }

  const context = {
    options: settings,
    spread,
    current: () => current,
    expiresAtMs,
    needsFresh: () => !current || Date.now() >= current.fetchedAt.getTime() + lifetimeMs(current) * refreshAt,
    refreshNow,
    report,
    onRestart: (info) => {
      try {
        onRestart?.(info);
      } catch {}
    },
    closed(handle) {
      release(handle);
      if (connections.size === 0) shutdown(revokeOnClose);
    },
    refused(handle) {
      release(handle);
      if (connections.size === 0) shutdown(false);
    },
  };

  function shutdown(revoke, sync = false) {
    if (!stopped) {
      stopped = true;
      timer.clear();
      clearInterval(closeCheck);
      inflight?.abort();
      for (const handle of [...connections]) release(handle);
      globalThis.removeEventListener?.("pagehide", onPageHide);
      globalThis.removeEventListener?.("pageshow", onPoll);
      globalThis.removeEventListener?.("online", onOnline);
      globalThis.document?.removeEventListener?.("visibilitychange", onPoll);
      signal?.removeEventListener("abort", onAbort);
      const error = new IceServersError("aborted", "the ICE source stopped");
      for (const resolve of waiters) resolve(Promise.reject(error));
      waiters = [];
    }
    if (revoke && tokens.size > 0) revoking = tokens.revokeAll(sync);
    return revoking;
  }

  // A timer that slept through its time (laptop lid, suspended or throttled tab) fires late or not
  // at all; the page's wake-up events and the poll run an overdue attempt now.
  function catchUp() {
    if (!stopped && !busy) timer.catchUp();
  }
  // Browsers fire no event when the page itself calls pc.close(), so the states are also polled.
  function onPoll() {
    pollConnections();
    catchUp();
  }
  // Back online: a retry waiting out its backoff need not wait any longer, unless the server
  // said when to come back.
  function onOnline() {
    if (!stopped && !busy && failures > 0 && timer.pending && Date.now() >= notBefore) timer.now();
    else catchUp();
  }
  // After pagehide no timer, poll or awaited promise can be counted on: revoke now or never. A
  // page going into the back/forward cache (`persisted`) may come back: it keeps its credentials.
  function onPageHide(event) {
    if (event?.persisted === true) return;
    if (revokeOnClose) shutdown(true, true);
  }
  function onAbort() {
    shutdown(false);
  }

  const source = {
    /**
     * Keeps `pc` fresh from now on; it should have been made with this source's servers. Returns
     * a function that lets go of `pc` (without revoking anything).
     */
    attach(pc) {
      checkPeerConnection(pc, "attach");
      if (stopped) return () => {};
      const handle = watchConnection(pc, context);
      connections.add(handle);
      handle.poll();
      return () => {
        if (connections.has(handle)) release(handle);
      };
    },
    /** The current servers, or the first answer when none has come yet. */
    servers() {
      if (current) return Promise.resolve(current);
      if (stopped) return Promise.reject(new IceServersError("aborted", "the ICE source stopped"));
      return new Promise((resolve) => waiters.push(resolve));
    },
    get current() {
      return current;
    },
    /** Stops refreshing; with `{ revoke: true }`, also revokes the known tokens. */
    stop(stopOptions = {}) {
      return shutdown(stopOptions?.revoke === true);
    },
  };

  if (signal?.aborted) {
    stopped = true;
    return source;
  }
  signal?.addEventListener("abort", onAbort, { once: true });
  globalThis.addEventListener?.("pagehide", onPageHide);
  globalThis.addEventListener?.("pageshow", onPoll);
  globalThis.addEventListener?.("online", onOnline);
  globalThis.document?.addEventListener?.("visibilitychange", onPoll);
  closeCheck = setInterval(onPoll, closeCheckMs);
  if (revokeOnClose) tokens.prefetchHeaders();
  if (current) scheduleRefresh(current);
  else timer.at(Date.now());
  return source;
}
