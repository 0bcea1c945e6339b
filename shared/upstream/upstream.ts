import * as v from "valibot";
import { ServiceError } from "../errors.ts";
import { MAX_UPSTREAM_BODY_BYTES, readCapped, UpstreamBodyTooLarge, type UpstreamResponse } from "./capped-body.ts";

export type { UpstreamResponse };

/**
 * What a provider asks of the network, as plain data. Each attempt hands it to
 * fetch as a URL and an init with a string body: a Request would be copied per
 * attempt, and again by fetch, body stream and all.
 */
export interface UpstreamRequest {
  readonly url: string;
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** What fetch receives for one attempt. */
export interface UpstreamInit {
  method: string;
  headers: Readonly<Record<string, string>>;
  body?: string;
  signal: AbortSignal;
  /**
   * Always "manual": a provider's redirect is its answer (an upstream error), never followed to
   * another address with our credentials and body. node/http-fetch.ts never follows one anyway.
   */
  redirect: "manual";
  /**
   * The most the body may hold (MAX_UPSTREAM_BODY_BYTES when absent): a client that buffers
   * the body itself stops there, rejecting with UpstreamBodyTooLarge.
   */
  maxBodyBytes?: number;
}

/**
 * The network, injectable: the global fetch fits, and so do the Node adapters'
 * node:http client (node/http-fetch.ts) and any test double.
 */
export type Fetch = (url: string, init: UpstreamInit) => Promise<UpstreamResponse>;

/** An upstream answer whose body has been read in full, inside the time budget. */
export interface UpstreamReply {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * `work`, or the error `expire()` returns once `ms` have passed, whichever comes
 * first. The timer is always cleared; `work` rejecting after it lost is expected.
 */
export async function withinTime<T>(work: Promise<T>, ms: number, expire: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(expire()), ms);
  });
  work.catch(() => {});
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends the request and reads the whole body within `timeoutMs`: connecting,
 * the headers and the body share one budget, so a hung upstream, or one whose
 * body never ends, still gets an answer in time. A body over
 * MAX_UPSTREAM_BODY_BYTES is cut off there: upstream_invalid_response.
 */
export async function fetchWithin(fetch: Fetch, request: UpstreamRequest, timeoutMs: number, provider: string): Promise<UpstreamReply> {
  const controller = new AbortController();
  const exchange = (async () => {
    const { url, method, headers, body } = request;
    const response = await fetch(url, {
      method,
      headers,
      body,
      signal: controller.signal,
      redirect: "manual",
      maxBodyBytes: MAX_UPSTREAM_BODY_BYTES,
    });
    return { status: response.status, headers: response.headers, body: await readCapped(response, MAX_UPSTREAM_BODY_BYTES) };
  })();
  try {
    return await withinTime(exchange, timeoutMs, () => {
      controller.abort();
      return new ServiceError("upstream_timeout", `${provider} did not answer within ${timeoutMs} ms`);
    });
  } catch (error) {
    if (error instanceof ServiceError) throw error;
    if (error instanceof UpstreamBodyTooLarge) {
      controller.abort();
      throw new ServiceError("upstream_invalid_response", `${provider} answered with a body over ${error.maxBytes / 1024} KiB`);
    }
    // The cause can carry the upstream URL; only a system error code such as ECONNREFUSED is kept.
    const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
    const reason = typeof code === "string" && /^E[A-Z_]{2,30}$/.test(code) ? ` (${code})` : "";
    throw new ServiceError("upstream_unreachable", `${provider} could not be reached${reason}`);
  }
}

// RFC 9110: delay-seconds, or an HTTP-date in the IMF-fixdate form senders must use.
const RETRY_AFTER = /^(?:\d{1,9}|[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT)$/;

/** Keeps a Retry-After only when it is one of the two forms HTTP allows. */
function retryAfterOf(headers: Headers): Record<string, string> {
  const value = headers.get("retry-after")?.trim();
  return value && RETRY_AFTER.test(value) ? { "Retry-After": value } : {};
}

/** What an upstream's non-2xx status means, whoever renders it: the server's answers, the CLI's exit codes. */
export type Refusal = "unauthorized" | "not_found" | "rate_limited" | "unavailable" | "failed";

/** The one reading of an upstream's status: undefined for a 2xx. */
export function refusalOf(status: number): Refusal | undefined {
  if (status >= 200 && status <= 299) return undefined;
  if (status === 401 || status === 403) return "unauthorized";
  if (status === 404) return "not_found";
  if (status === 429) return "rate_limited";
  if (status === 503) return "unavailable";
  return "failed";
}

/**
 * Maps a non-2xx upstream status to our own error. The upstream body is never echoed:
 * it is not ours to show, and may reflect what we sent.
 */
export function upstreamStatusError(reply: UpstreamReply, provider: string): ServiceError {
  const { status } = reply;
  switch (refusalOf(status)) {
    case "unauthorized":
      return new ServiceError("upstream_unauthorized", `${provider} refused the configured credentials`);
    case "rate_limited":
      return new ServiceError("upstream_rate_limited", `${provider} is rate limiting requests`, retryAfterOf(reply.headers));
    case "unavailable":
      return new ServiceError("upstream_unavailable", `${provider} is temporarily unavailable`, retryAfterOf(reply.headers));
    default:
      return new ServiceError("upstream_error", `${provider} answered with HTTP ${status}`);
  }
}

/** The one budget a whole request shares across providers and retries. */
export interface Deadline {
  remainingMs(): number;
}

export function deadlineIn(ms: number): Deadline {
  const end = performance.now() + ms;
  return { remainingMs: () => Math.max(0, end - performance.now()) };
}

export const MAX_ATTEMPTS = 2;
const BACKOFF_BASE_MS = 100;
// A retry is pointless unless the attempt after the wait has at least this long to run.
const MIN_ATTEMPT_MS = 250;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Seconds to wait from a Retry-After, or undefined when absent or an HTTP-date. */
function retryAfterMs(reply: UpstreamReply): number | undefined {
  const value = reply.headers.get("retry-after")?.trim();
  return value && /^\d{1,9}$/.test(value) ? Number(value) * 1000 : undefined;
}

export interface RetryOptions {
  fetch: Fetch;
  attemptTimeoutMs: number;
  deadline: Deadline;
  provider: string;
  random?: () => number;
}

/**
 * Calls an upstream at most MAX_ATTEMPTS times, inside the deadline. Only a network
 * failure, a 5xx or a 429 is retried, after a full-jitter backoff or the upstream's
 * own Retry-After when that fits the budget. A timeout is not retried: a provider
 * that is slow now is left for the next one. Non-2xx replies are returned for the
 * provider to map, so the last one's status is what the caller sees.
 */
export async function callWithRetry(request: UpstreamRequest, options: RetryOptions): Promise<UpstreamReply> {
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt += 1) {
    const budget = Math.min(options.attemptTimeoutMs, options.deadline.remainingMs());
    if (budget <= 0) throw new ServiceError("upstream_timeout", `no time was left to ask ${options.provider}`);
    let reply: UpstreamReply | undefined;
    let failure: ServiceError | undefined;
    try {
      reply = await fetchWithin(options.fetch, request, budget, options.provider);
    } catch (error) {
      if (!(error instanceof ServiceError) || error.code !== "upstream_unreachable") throw error;
      failure = error;
    }
    const retryable = failure !== undefined || reply!.status >= 500 || reply!.status === 429;
    if (attempt >= MAX_ATTEMPTS || !retryable) {
      if (failure) throw failure;
      return reply!;
    }
    const asked = reply ? retryAfterMs(reply) : undefined;
    const wait = asked ?? Math.floor(random() * BACKOFF_BASE_MS * 2 ** attempt);
    if (wait + MIN_ATTEMPT_MS > options.deadline.remainingMs()) {
      if (failure) throw failure;
      return reply!;
    }
    await sleep(wait);
  }
}

/**
 * A provider's 2xx JSON answer, checked against its schema; any other status,
 * a body that is not JSON, or the wrong shape is a ServiceError.
 */
export function parseReply<T>(reply: UpstreamReply, schema: v.GenericSchema<unknown, T>, provider: string): T {
  if (refusalOf(reply.status)) throw upstreamStatusError(reply, provider);
  let json: unknown;
  try {
    json = JSON.parse(reply.body);
  } catch {
    throw new ServiceError("upstream_invalid_response", `${provider} answered with a body that is not JSON`);
  }
  const result = v.safeParse(schema, json);
  if (!result.success) throw new ServiceError("upstream_invalid_response", `${provider} answered with an unexpected shape`);
  return result.output;
}

/** The only way a provider reaches the network: timed, retried and budgeted by the chain. */
export interface Upstream {
  call(request: UpstreamRequest): Promise<UpstreamReply>;
}

export interface BudgetOptions {
  fetch: Fetch;
  /** One attempt's budget: connecting, the headers and the body. */
  attemptTimeoutMs: number;
  deadline: Deadline;
  /** The provider's name, for messages. */
  label: string;
  random?: () => number;
  /** Told of every attempt, retries included, for the request's log line. */
  onAttempt?: () => void;
}

/** A provider's way to the network: each call timed and retried, all inside the request's one deadline. */
export function budgetedUpstream(options: BudgetOptions): Upstream {
  const { onAttempt } = options;
  const fetch: Fetch = onAttempt
    ? (url, init) => {
        onAttempt();
        return options.fetch(url, init);
      }
    : options.fetch;
  return {
    call: (request) =>
      callWithRetry(request, {
        fetch,
        attemptTimeoutMs: options.attemptTimeoutMs,
        deadline: options.deadline,
        provider: options.label,
        random: options.random,
      }),
  };
}
