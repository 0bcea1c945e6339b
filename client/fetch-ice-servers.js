// GET /api/ice-servers: the request, its timeout, and the answer's validation.
import { IceServersError } from "./ice-servers-error.js";

/** Where the service answers when the page and the functions share an origin (Netlify, Vercel, npm start). */
export const DEFAULT_ENDPOINT = "/api/ice-servers";

export const DEFAULT_TIMEOUT_MS = 10_000;

/** The longest a browser timer can wait: a longer delay overflows and fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function checkTtl(ttl) {
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 1)) {
    throw new TypeError("ttl must be a whole number of seconds, 1 or more");
  }
}

export function checkTimeout(timeoutMs) {
  if (!(typeof timeoutMs === "number" && timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS)) {
    throw new RangeError(`timeoutMs must be a number of milliseconds from 1 to ${MAX_TIMER_MS}`);
  }
}

function withTtl(endpoint, ttl) {
  if (ttl === undefined) return endpoint;
  return `${endpoint}${endpoint.includes("?") ? "&" : "?"}ttl=${ttl}`;
}

// Retry-After is seconds or an HTTP date; returns seconds, or undefined.
function parseRetryAfter(value) {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

export function defaultFetch(input, init) {
  return globalThis.fetch(input, init);
}

// A throwing headers function (an expired session, say) is one more failure of this client.
export async function resolveHeaders(headers) {
  if (typeof headers !== "function") return headers;
  try {
    return await headers();
  } catch (error) {
    throw new IceServersError("headers_failed", "the headers function threw", { cause: error });
  }
}

export function buildHeaders(init) {
  try {
    return new Headers(init);
  } catch (error) {
    throw new IceServersError("headers_failed", "the headers are not valid HTTP headers", { cause: error });
  }
}

const asList = (urls) => (Array.isArray(urls) ? urls : [urls]);

function isIceServer(server) {
  if (!server || typeof server !== "object") return false;
  const urls = asList(server.urls);
  return urls.length > 0 && urls.every((url) => typeof url === "string");
}

/** Whether an iceServers list has a TURN (or TURNS) URL. */
export function hasTurnUrl(iceServers) {
  return (iceServers ?? []).some((server) => asList(server?.urls).some((url) => /^turns?:/i.test(String(url))));
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
