// Browser client for GET /api/ice-servers: plain ESM, no dependencies, no build step.
// Types: ./turn-client.d.ts. Documentation: docs/client.md.

/** Where the service answers when the page and the functions share an origin (Netlify, Vercel, npm start). */
export const DEFAULT_ENDPOINT = "/api/ice-servers";

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Every failure of this client. `code` is the server's own error code (such as `invalid_ttl`,
 * `upstream_unavailable`) when it answered one, or one of the client's codes: `network_error`,
 * `timeout`, `aborted`, `http_error` (an error answer without our JSON error body),
 * `invalid_response`, `headers_failed` (the `headers` function threw), `apply_failed`
 * (setConfiguration refused the servers), `restart_failed` (pc.restartIce() threw), `revoke_failed`.
 * `status` is the HTTP status, or 0 when there was no answer.
 */
export class IceServersError extends Error {
  constructor(code, message, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "IceServersError";
    this.code = code;
    this.status = details.status ?? 0;
    if (details.retryAfter !== undefined) this.retryAfter = details.retryAfter;
  }
}

/** The longest a browser timer can wait: a longer delay overflows and fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function checkTtl(ttl) {
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 1)) {
    throw new TypeError("ttl must be a whole number of seconds, 1 or more");
  }
}

function withTtl(endpoint, ttl) {
  if (ttl === undefined) return endpoint;
  return `${endpoint}${endpoint.includes("?") ? "&" : "?"}ttl=${ttl}`;
}

/** `${endpoint}/revoke`, without the endpoint's query. */
export function revokeUrl(endpoint = DEFAULT_ENDPOINT) {
  return `${endpoint.split("?")[0].replace(/\/+$/, "")}/revoke`;
}

// Retry-After is seconds or an HTTP date; returns seconds, or undefined.
function parseRetryAfter(value) {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function defaultFetch(input, init) {
  return globalThis.fetch(input, init);
}

function checkTimeout(timeoutMs) {
  if (!(typeof timeoutMs === "number" && timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS)) {
    throw new RangeError(`timeoutMs must be a number of milliseconds from 1 to ${MAX_TIMER_MS}`);
  }
}

// A throwing headers function (an expired session, say) is one more failure of this client.
async function resolveHeaders(headers) {
  if (typeof headers !== "function") return headers;
  try {
    return await headers();
  } catch (error) {
    throw new IceServersError("headers_failed", "the headers function threw", { cause: error });
  }
}

function buildHeaders(init) {
  try {
    return new Headers(init);
  } catch (error) {
    throw new IceServersError("headers_failed", "the headers are not valid HTTP headers", { cause: error });
  }
}

function isIceServer(server) {
  if (!server || typeof server !== "object") return false;
  const urls = Array.isArray(server.urls) ? server.urls : [server.urls];
  return urls.length > 0 && urls.every((url) => typeof url === "string");
}

/**
 * Asks the service for ICE servers. Resolves to
 * `{ config, ttl, expiresAt, fetchedAt, provider, revokeToken, degraded }`, where `config` is the
 * `RTCConfiguration` to pass to `new RTCPeerConnection(config)`; rejects with an IceServersError.
 */
export async function getIceServers(options = {}) {
  const { endpoint = DEFAULT_ENDPOINT, ttl, headers, signal, timeoutMs = DEFAULT_TIMEOUT_MS } = options;
  const fetchImpl = options.fetch ?? defaultFetch;
  checkTtl(ttl);
  checkTimeout(timeoutMs);

  // A function is asked again on each call, so keepFresh sends a current token hours later.
  const requestHeaders = buildHeaders(typeof headers === "function" ? await resolveHeaders(headers) : headers);
  if (!requestHeaders.has("accept")) requestHeaders.set("accept", "application/json");

  // One controller for the caller's signal and our own timeout, so either cancels the request.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onAbort = () => controller.abort();
  if (signal?.aborted) controller.abort();
  else signal?.addEventListener("abort", onAbort, { once: true });

  const fetchedAt = new Date();
  let response;
  let text;
  try {
    response = await fetchImpl(withTtl(endpoint, ttl), {
      method: "GET",
      headers: requestHeaders,
      cache: "no-store",
      signal: controller.signal,
    });
    text = await response.text();
  } catch (error) {
    if (timedOut) throw new IceServersError("timeout", `no answer from ${endpoint} within ${timeoutMs} ms`, { cause: error });
    if (signal?.aborted) throw new IceServersError("aborted", "the request was aborted", { cause: error });
    throw new IceServersError("network_error", `could not reach ${endpoint}`, { cause: error });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }

  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const status = response.status;

  if (!response.ok) {
    const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
    const error = body && typeof body === "object" ? body.error : undefined;
    if (error && typeof error.code === "string") {
      const message = typeof error.message === "string" ? error.message : error.code;
      throw new IceServersError(error.code, message, { status, retryAfter });
    }
    throw new IceServersError("http_error", `${endpoint} answered HTTP ${status}`, { status, retryAfter });
  }

  if (
    !body ||
    typeof body !== "object" ||
    !Array.isArray(body.iceServers) ||
    !body.iceServers.every(isIceServer) ||
    !Number.isFinite(body.ttl) ||
    body.ttl <= 0
  ) {
    throw new IceServersError("invalid_response", `${endpoint} answered 200 without a valid iceServers list and ttl`, { status });
  }

  const expiresAt = new Date(typeof body.expiresAt === "string" ? body.expiresAt : fetchedAt.getTime() + body.ttl * 1000);
  const result = {
    config: { iceServers: body.iceServers },
    ttl: body.ttl,
    expiresAt: Number.isNaN(expiresAt.getTime()) ? new Date(fetchedAt.getTime() + body.ttl * 1000) : expiresAt,
    fetchedAt,
    provider: typeof body.provider === "string" ? body.provider : "none",
    degraded: body.degraded === true,
  };
  if (typeof body.revokeToken === "string" && body.revokeToken !== "") result.revokeToken = body.revokeToken;
  return result;
}

/**
 * POSTs `{"revokeToken": …}` to `${endpoint}/revoke`. Resolves when the server accepted it;
 * rejects with an IceServersError (`revoke_failed`, `headers_failed`, or the server's code) otherwise.
 * With `headers` that are not a function, the request is sent before this returns.
 */
export function revokeIceServers(revokeToken, options = {}) {
  if (typeof options.headers === "function") {
    return resolveHeaders(options.headers).then((headers) => sendRevoke(revokeToken, headers, options));
  }
  return sendRevoke(revokeToken, options.headers, options);
}

// Calls fetch synchronously: on pagehide, nothing awaited would still run.
function sendRevoke(revokeToken, headers, options) {
  const { endpoint = DEFAULT_ENDPOINT } = options;
  const fetchImpl = options.fetch ?? defaultFetch;
  const url = revokeUrl(endpoint);
  let sent;
  try {
    const requestHeaders = buildHeaders(headers);
    requestHeaders.set("content-type", "application/json");
    sent = fetchImpl(url, {
      method: "POST",
      headers: requestHeaders,
      body: JSON.stringify({ revokeToken }),
      // Lets the request outlive the page when the revocation happens as it unloads.
      keepalive: true,
    });
  } catch (error) {
    if (error instanceof IceServersError) return Promise.reject(error);
    sent = Promise.reject(error);
  }
  return Promise.resolve(sent).then(
    async (response) => {
      if (response.ok) return;
      let code = "revoke_failed";
      let message = `${url} answered HTTP ${response.status}`;
      try {
        const error = (await response.json()).error;
        if (typeof error?.code === "string") {
          code = error.code;
          if (typeof error.message === "string") message = error.message;
        }
      } catch {}
      throw new IceServersError(code, message, { status: response.status });
    },
    (error) => {
      throw new IceServersError("revoke_failed", `could not reach ${url}`, { cause: error });
    },
  );
}

/** Lifetimes above Cloudflare's limit (48 h, also the server's TURN_TTL cap) are not believed. */
const MAX_BELIEVED_TTL_S = 172_800;
const RESTART_MODES = ["relayed", "always", "never"];

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

function checkFunction(name, value) {
  if (value !== undefined && typeof value !== "function") throw new TypeError(`${name} must be a function`);
}

function checkKeepFreshOptions(pc, options) {
  if (!pc || typeof pc.getConfiguration !== "function" || typeof pc.setConfiguration !== "function") {
    throw new TypeError("keepFresh needs an RTCPeerConnection");
  }
  const { initial, endpoint, ttl, signal, revokeOnClose, restartIce } = options;
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
  if (revokeOnClose !== undefined && typeof revokeOnClose !== "boolean") throw new TypeError("revokeOnClose must be true or false");
  if (restartIce !== undefined && !RESTART_MODES.includes(restartIce)) {
    throw new RangeError(`restartIce must be one of ${RESTART_MODES.join(", ")}`);
  }
  for (const name of ["fetch", "random", "onRefresh", "onRestart", "onError"]) checkFunction(name, options[name]);
}

/**
 * The candidate pairs ICE selected, from a getStats() report: the transports'
 * `selectedCandidatePairId` (Chrome, Safari), else the pairs marked `selected` (Firefox), else
 * the nominated pairs that succeeded.
 */
function selectedPairs(stats) {
  const all = [];
  stats.forEach((report) => {
    all.push(report);
  });
  const byTransport = all
    .filter((report) => report.type === "transport" && report.selectedCandidatePairId)
    .map((report) => stats.get(report.selectedCandidatePairId))
    .filter(Boolean);
  if (byTransport.length > 0) return byTransport;
  const pairs = all.filter((report) => report.type === "candidate-pair");
  const marked = pairs.filter((pair) => pair.selected === true);
  if (marked.length > 0) return marked;
  return pairs.filter((pair) => pair.nominated === true && pair.state === "succeeded");
}

/** Whether a selected pair's local candidate is a TURN relay ("relayed" in older Firefox). */
async function usesRelay(pc) {
  const stats = await pc.getStats();
  return selectedPairs(stats).some((pair) => {
    const type = stats.get(pair.localCandidateId)?.candidateType;
    return type === "relay" || type === "relayed";
  });
}

/**
 * Keeps `pc`'s TURN credentials fresh: fetches new ones at about `refreshAt` (80%) of their
 * lifetime, jittered by ±`jitter` (10%), applies them with `pc.setConfiguration`, and then, as
 * `restartIce` says, restarts ICE so that relays in use are allocated again under them. Stops when
 * `pc` closes, the page is hidden for good (with `revokeOnClose`), `signal` aborts, or the returned
 * function is called. Returns that stop function. See docs/client.md.
 */
export function keepFresh(pc, options = {}) {
  checkKeepFreshOptions(pc, options);
  const {
    initial,
    revokeOnClose = false,
    restartIce = "relayed",
    refreshAt = 0.8,
    jitter = 0.1,
    minRefreshMs = 5_000,
    minRetryMs = 1_000,
    maxRetryMs = 60_000,
    closeCheckMs = 1_000,
    random = Math.random,
    signal,
    onRefresh,
    onRestart,
    onError,
    ...fetchOptions
  } = options;
  const { headers, timeoutMs = DEFAULT_TIMEOUT_MS } = fetchOptions;
  checkFraction("refreshAt", refreshAt, 0.05, 0.95);
  checkFraction("jitter", jitter, 0, 0.5);
  checkMs("minRefreshMs", minRefreshMs, 0);
  checkMs("minRetryMs", minRetryMs, 1);
  checkMs("maxRetryMs", maxRetryMs, minRetryMs);
  checkMs("closeCheckMs", closeCheckMs, 1);
  checkTimeout(timeoutMs);

  let current = initial;
  let stopped = false;
  let busy = false;
  let failures = 0;
  let warned = false;
  /** When the next attempt is due, on this device's wall clock; undefined while one runs. */
  let dueAt;
  let timer;
  let closeCheck;
  let inflight;
  /** Fresh servers applied but not yet restarted for (see restart). */
  let pendingRestart;
  let revoking = Promise.resolve();
  /** The last headers a headers function gave, so that pagehide can revoke without awaiting it. */
  let resolvedHeaders = typeof headers === "function" ? undefined : headers;
  /** revokeToken → when its credentials expire, on this device's clock. */
  const tokens = new Map();

  const isClosed = () => pc.connectionState === "closed" || pc.signalingState === "closed";
  const spread = () => 1 + jitter * (2 * random() - 1);
  const report = (error, retryInMs) => {
    try {
      onError?.(error, { attempt: failures, retryInMs });
    } catch {}
  };

  // Expiry on this device's clock: the lifetime measured from when the request was sent,
  // so a device whose clock is wrong still refreshes in time.
  const lifetimeMs = (result) => Math.min(result.ttl, MAX_BELIEVED_TTL_S) * 1000;
  const expiresAtMs = (result) => result.fetchedAt.getTime() + lifetimeMs(result);

  function remember(result) {
    if (result?.revokeToken) tokens.set(result.revokeToken, result.fetchedAt.getTime() + result.ttl * 1000);
  }
  // Revoking an expired token only earns a 403 revoke_token_expired (and uses up the rate limit).
  function pruneTokens() {
    const now = Date.now();
    for (const [token, expiresAt] of tokens) if (expiresAt <= now) tokens.delete(token);
  }
  remember(initial);

  // Timers are armed from an absolute due time and re-armed when they wake early: a delay over
  // 2^31-1 ms would fire at once, and a sleeping device wakes its timers late, not early.
  function scheduleAt(at) {
    dueAt = Math.max(Date.now(), Math.round(at));
    arm();
  }
  function arm() {
    clearTimeout(timer);
    timer = setTimeout(onTimer, Math.min(MAX_TIMER_MS, Math.max(0, dueAt - Date.now())));
  }
  function onTimer() {
    if (stopped || dueAt === undefined) return;
    if (Date.now() < dueAt) arm();
    else start();
  }
  // A timer that slept through its time (laptop lid, suspended or throttled tab) fires late or not
  // at all; the page's wake-up events and the poll run an overdue attempt now.
  function catchUp() {
    if (!stopped && !busy && dueAt !== undefined && Date.now() >= dueAt) start();
  }
  // Back online: a retry waiting out its backoff need not wait any longer.
  function onOnline() {
    if (!stopped && !busy && failures > 0 && dueAt !== undefined) start();
    else catchUp();
  }
  function start() {
    clearTimeout(timer);
    dueAt = undefined;
    refresh();
  }

  function scheduleRefresh(result) {
    const fetchedAt = result.fetchedAt.getTime();
    const fraction = Math.min(0.95, refreshAt * spread());
    const planned = lifetimeMs(result) * fraction;
    if (lifetimeMs(result) * refreshAt * (1 - jitter) < minRefreshMs && !warned) {
      warned = true;
      globalThis.console?.warn?.(
        `keepFresh: credentials that last ${result.ttl} s are refreshed every ${minRefreshMs} ms (minRefreshMs) at most, so they expire between refreshes; ask for a longer ttl`,
      );
    }
    scheduleAt(fetchedAt + Math.max(planned, minRefreshMs));
  }

  function scheduleRetry(error) {
    let delay = Math.min(maxRetryMs, minRetryMs * 2 ** (failures - 1)) * spread();
    // The server's Retry-After wins over the backoff, maxRetryMs included: sooner would be refused.
    if (error?.retryAfter !== undefined) delay = Math.max(delay, error.retryAfter * 1000);
    const now = Date.now();
    if (current) {
      // Never let the credentials in use expire without one last attempt, early enough for a
      // request that takes all of timeoutMs to come back before they do.
      const lead = Math.min(timeoutMs + 1_000, (lifetimeMs(current) * (1 - refreshAt)) / 2);
      const lastChance = expiresAtMs(current) - lead;
      if (now < lastChance && now + delay > lastChance) delay = lastChance - now;
    }
    delay = Math.max(0, Math.round(delay));
    report(error, delay);
    scheduleAt(now + delay);
  }

  async function refresh() {
    if (stopped) return;
    if (isClosed()) return shutdown(revokeOnClose);
    busy = true;
    inflight = new AbortController();
    let result;
    try {
      const requestHeaders = await resolveHeaders(headers);
      if (stopped) return;
      resolvedHeaders = requestHeaders;
      result = await getIceServers({ ...fetchOptions, headers: requestHeaders, signal: inflight.signal });
    } catch (error) {
      if (stopped) return;
      failures += 1;
      return scheduleRetry(error);
    } finally {
      busy = false;
      inflight = undefined;
    }
    remember(result);
    pruneTokens();
    if (stopped) return;
    if (isClosed()) return shutdown(revokeOnClose);
    try {
      pc.setConfiguration({ ...pc.getConfiguration(), iceServers: result.config.iceServers });
    } catch (error) {
      if (isClosed()) return shutdown(revokeOnClose);
      failures += 1;
      return scheduleRetry(new IceServersError("apply_failed", `setConfiguration refused the new ICE servers`, { cause: error }));
    }
    current = result;
    failures = 0;
    try {
      onRefresh?.(result);
    } catch {}
    scheduleRefresh(result);
    pendingRestart = result;
    restart();
  }

  // New iceServers only mark the next offer as an ICE restart; a relay in use keeps refreshing its
  // allocation under the old credential until then. restartIce() fires negotiationneeded, and the
  // app's negotiation gathers new relays under the fresh credentials. Fresh servers applied while
  // a negotiation runs (often the other side's restart) or the connection is down wait for
  // connected and stable: skipping them would leave that side's relays on the old credential.
  async function restart() {
    const fresh = pendingRestart;
    if (!fresh || restartIce === "never" || typeof pc.restartIce !== "function") return;
    const ready = () => !stopped && pc.connectionState === "connected" && pc.signalingState === "stable";
    if (!ready()) return;
    pendingRestart = undefined;
    if (restartIce === "relayed") {
      let relayed = false;
      try {
        relayed = typeof pc.getStats === "function" && (await usesRelay(pc));
      } catch {}
      if (!relayed) return;
      if (!ready()) {
        pendingRestart ??= fresh;
        return;
      }
    }
    try {
      pc.restartIce();
    } catch (error) {
      report(new IceServersError("restart_failed", "pc.restartIce() refused to restart ICE", { cause: error }), undefined);
      return;
    }
    try {
      onRestart?.({ fresh, mode: restartIce });
    } catch {}
  }

  // `sync` (pagehide): every fetch is called before this returns, with headers resolved earlier.
  function revokeKnown(sync) {
    pruneTokens();
    const list = [...tokens.keys()];
    tokens.clear();
    const send = (resolved) =>
      Promise.all(
        list.map((token) =>
          sendRevoke(token, resolved, fetchOptions).catch((error) => {
            // Expired since it was last pruned: nothing left to revoke.
            if (error?.code !== "revoke_token_expired") report(error, undefined);
          }),
        ),
      ).then(() => undefined);
    if (sync || typeof headers !== "function") return send(sync ? resolvedHeaders : headers);
    return resolveHeaders(headers).then(send, (error) => report(error, undefined));
  }

  function shutdown(revoke, sync = false) {
    if (!stopped) {
      stopped = true;
      clearTimeout(timer);
      clearInterval(closeCheck);
      inflight?.abort();
      pc.removeEventListener?.("connectionstatechange", onStateChange);
      pc.removeEventListener?.("signalingstatechange", restart);
      globalThis.removeEventListener?.("pagehide", onPageHide);
      globalThis.removeEventListener?.("pageshow", catchUp);
      globalThis.removeEventListener?.("online", onOnline);
      globalThis.document?.removeEventListener?.("visibilitychange", catchUp);
      signal?.removeEventListener("abort", onAbort);
    }
    if (revoke && tokens.size > 0) revoking = revokeKnown(sync);
    return revoking;
  }

  function onStateChange() {
    if (isClosed()) shutdown(revokeOnClose);
    else restart();
  }
  function onPoll() {
    onStateChange();
    catchUp();
  }
  // After pagehide no timer, poll or awaited promise can be counted on: revoke now or never.
  function onPageHide() {
    if (revokeOnClose) shutdown(true, true);
  }
  function onAbort() {
    shutdown(false);
  }

  if (signal?.aborted) return (stopOptions = {}) => shutdown(stopOptions.revoke === true);
  signal?.addEventListener("abort", onAbort, { once: true });

  // Browsers fire no event when the page itself calls pc.close(), so the state is also polled.
  pc.addEventListener?.("connectionstatechange", onStateChange);
  pc.addEventListener?.("signalingstatechange", restart);
  globalThis.addEventListener?.("pagehide", onPageHide);
  globalThis.addEventListener?.("pageshow", catchUp);
  globalThis.addEventListener?.("online", onOnline);
  globalThis.document?.addEventListener?.("visibilitychange", catchUp);
  closeCheck = setInterval(onPoll, closeCheckMs);

  // A function's headers are resolved ahead, so that a pagehide before the first refresh can revoke.
  if (revokeOnClose && typeof headers === "function" && tokens.size > 0) {
    resolveHeaders(headers).then(
      (resolved) => (resolvedHeaders ??= resolved),
      () => {},
    );
  }

  if (isClosed()) shutdown(revokeOnClose);
  else if (current) scheduleRefresh(current);
  else scheduleAt(Date.now());

  return (stopOptions = {}) => shutdown(stopOptions.revoke === true);
}
