import type { Caller } from "./access/auth.ts";
import type { Config } from "./config.ts";
import type { Hmac } from "./hmac.ts";
import type { Logger, RequestTrace } from "./log.ts";
import type { OperatorReports } from "./operator-reports.ts";
import type { SharedSecretConfig } from "./providers/shared-secret.ts";
import type { RateLimitStore } from "./rate-limit/limiter.ts";
import type { Place } from "./routing/location.ts";
import type { UsageBook } from "./spend/usage-book.ts";
import { budgetedUpstream, type Deadline, type Fetch, type Upstream } from "./upstream/upstream.ts";

/** One admitted request as a route sees it: built once by handle(), read by every step after. */
export interface RequestContext {
  readonly request: Request;
  readonly url: URL;
  readonly config: Config;
  readonly caller: Caller;
  readonly fetch: Fetch;
  readonly log: Logger;
  /** Jitter source for retries. */
  readonly random?: () => number;
  /** Filled in with the providers asked, their failures and the attempts made, for the request's log line. */
  readonly trace?: RequestTrace;
  /** Milliseconds since the epoch, when the request was admitted. */
  readonly now: number;
  /** npm start: no provider means STUN-only rather than an error. */
  readonly local: boolean;
  /** Where the caller is, from the host's own facts; absent where the host gives none. */
  readonly location?: Place;
  /** npm start's own coturn, when it runs one: see HandleOptions.localRelay. */
  readonly localRelay?: SharedSecretConfig;
  /** Keeps a usage read begun by this request alive after its answer, where the host cancels what is left. */
  readonly waitUntil?: (work: Promise<unknown>) => void;
  /** The rate-limit store, where usage figures are shared between instances (undefined: none usable). */
  readonly store?: () => RateLimitStore | undefined;
  // What the service instance answering keeps between requests (shared/service.ts):
  /** Its HMAC (with WebCrypto's, each key imported once): revoke tokens, shared-secret credentials. */
  readonly hmac: Hmac;
  /** Its providers' usage figures, for the spend guard. */
  readonly usage: UsageBook;
  /** When it last logged each repeating operator event. */
  readonly reports: OperatorReports;
}

/** A provider's way to the network for this request: every call timed and retried, inside `deadline`. */
export function upstreamFor(context: RequestContext, label: string, deadline: Deadline): Upstream {
  const { trace } = context;
  return budgetedUpstream({
    fetch: context.fetch,
    attemptTimeoutMs: context.config.upstreamTimeoutMs,
    deadline,
    label,
    random: context.random,
    onAttempt: trace && (() => void trace.attempts++),
  });
}
