// Browser client for GET /api/ice-servers: plain ESM, no dependencies, no build step.
// Types: ./turn-client.d.ts. Documentation: "Browser client" in the README.

/** Where the service answers when the page and the functions share an origin (Netlify, Vercel, npm start). */
export const DEFAULT_ENDPOINT = "/api/ice-servers";

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Every failure of this client. `code` is the server's own error code (such as `invalid_ttl`,
 * `upstream_unavailable`) when it answered one, or one of the client's codes: `network_error`,
 * `timeout`, `aborted`, `http_error` (an error answer without our JSON error body),
 * `invalid_response`, `apply_failed` (setConfiguration refused the servers), `revoke_failed`.
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

  // A function is asked again on each call, so keepFresh sends a current token hours later.
  const requestHeaders = new Headers(typeof headers === "function" ? await headers() : headers);
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
 * rejects with an IceServersError (`revoke_failed`, or the server's code) otherwise.
 */
export async function revokeIceServers(revokeToken, options = {}) {
  const { endpoint = DEFAULT_ENDPOINT, headers } = options;
  const fetchImpl = options.fetch ?? defaultFetch;
  const requestHeaders = new Headers(typeof headers === "function" ? await headers() : headers);
  requestHeaders.set("content-type", "application/json");
  let response;
  try {
    response = await fetchImpl(revokeUrl(endpoint), {
      method: "POST",
      headers: requestHeaders,
      body: JSON.stringify({ revokeToken }),
      // Lets the request outlive the page when the revocation happens as it unloads.
      keepalive: true,
    });
  } catch (error) {
    throw new IceServersError("revoke_failed", `could not reach ${revokeUrl(endpoint)}`, { cause: error });
  }
  if (!response.ok) {
    let code = "revoke_failed";
    let message = `${revokeUrl(endpoint)} answered HTTP ${response.status}`;
    try {
      const error = (await response.json()).error;
      if (typeof error?.code === "string") {
        code = error.code;
        if (typeof error.message === "string") message = error.message;
      }
    } catch {}
    throw new IceServersError(code, message, { status: response.status });
  }
}

function checkFraction(name, value, low, high) {
  if (typeof value !== "number" || !(value >= low && value <= high)) {
    throw new RangeError(`${name} must be a number from ${low} to ${high}`);
  }
}

/**
 * Keeps `pc`'s TURN credentials fresh: fetches new ones at about `refreshAt` (80%) of their
 * lifetime, jittered by ±`jitter` (10%), and applies them with `pc.setConfiguration`.
 * A failed fetch is retried after 1 s, 2 s, 4 s… up to `maxRetryMs`, with one attempt always
 * made just before the current credentials expire. Stops when `pc` closes, or when the returned
 * function is called. Returns that stop function.
 */
export function keepFresh(pc, options = {}) {
  const {
    initial,
    revokeOnClose = false,
    refreshAt = 0.8,
    jitter = 0.1,
    minRetryMs = 1_000,
    maxRetryMs = 60_000,
    closeCheckMs = 1_000,
    random = Math.random,
    onRefresh,
    onError,
    ...fetchOptions
  } = options;
  checkTtl(fetchOptions.ttl);
  checkFraction("refreshAt", refreshAt, 0.05, 0.95);
  checkFraction("jitter", jitter, 0, 0.5);
  if (!(minRetryMs > 0 && maxRetryMs >= minRetryMs)) throw new RangeError("need 0 < minRetryMs <= maxRetryMs");
  delete fetchOptions.signal;

  let current = initial;
  let stopped = false;
  let failures = 0;
  let timer;
  let closeCheck;
  let inflight;
  let revoking = Promise.resolve();
  const tokens = new Set();
  if (initial?.revokeToken) tokens.add(initial.revokeToken);

  const isClosed = () => pc.connectionState === "closed" || pc.signalingState === "closed";
  const spread = () => 1 + jitter * (2 * random() - 1);
  const report = (error, retryInMs) => {
    try {
      onError?.(error, { attempt: failures, retryInMs });
    } catch {}
  };

  function schedule(delayMs) {
    clearTimeout(timer);
    timer = setTimeout(refresh, Math.max(0, Math.round(delayMs)));
  }

  // Expiry on this device's clock: the lifetime measured from when the request was sent,
  // so a device whose clock is wrong still refreshes in time.
  const lifetimeMs = (result) => result.ttl * 1000;
  const expiresAtMs = (result) => result.fetchedAt.getTime() + lifetimeMs(result);

  function scheduleRefresh(result) {
    const fraction = Math.min(0.95, refreshAt * spread());
    schedule(result.fetchedAt.getTime() + lifetimeMs(result) * fraction - Date.now());
  }

  function scheduleRetry(error) {
    let delay = Math.min(maxRetryMs, minRetryMs * 2 ** (failures - 1)) * spread();
    if (error?.retryAfter !== undefined) delay = Math.max(delay, Math.min(maxRetryMs, error.retryAfter * 1000));
    if (current) {
      // Never let the credentials in use expire without a last attempt just before.
      const lastChance = expiresAtMs(current) - Math.min(1_000, lifetimeMs(current) * 0.02);
      const now = Date.now();
      if (now < lastChance && now + delay > lastChance) delay = lastChance - now;
    }
    delay = Math.max(0, Math.round(delay));
    report(error, delay);
    schedule(delay);
  }

  async function refresh() {
    if (stopped) return;
    if (isClosed()) return shutdown(revokeOnClose);
    inflight = new AbortController();
    let result;
    try {
      result = await getIceServers({ ...fetchOptions, signal: inflight.signal });
    } catch (error) {
      if (stopped) return;
      failures += 1;
      return scheduleRetry(error);
    } finally {
      inflight = undefined;
    }
    if (result.revokeToken) tokens.add(result.revokeToken);
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
  }

  function revokeAll() {
    const pending = [...tokens].map((token) =>
      revokeIceServers(token, fetchOptions).catch((error) => report(error, undefined)),
    );
    tokens.clear();
    return Promise.all(pending).then(() => undefined);
  }

  function shutdown(revoke) {
    if (!stopped) {
      stopped = true;
      clearTimeout(timer);
      clearInterval(closeCheck);
      inflight?.abort();
      pc.removeEventListener?.("connectionstatechange", onStateChange);
    }
    if (revoke && tokens.size > 0) revoking = revokeAll();
    return revoking;
  }

  function onStateChange() {
    if (isClosed()) shutdown(revokeOnClose);
  }

  // Browsers fire no event when the page itself calls pc.close(), so the state is also polled.
  pc.addEventListener?.("connectionstatechange", onStateChange);
  closeCheck = setInterval(onStateChange, closeCheckMs);

  if (isClosed()) shutdown(revokeOnClose);
  else if (current) scheduleRefresh(current);
  else schedule(0);

  return (stopOptions = {}) => shutdown(stopOptions.revoke === true);
}
