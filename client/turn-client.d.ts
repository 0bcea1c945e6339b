// Types for ./turn-client.js, written by hand (the client itself is plain JavaScript).

/** Where the service answers when the page and the functions share an origin. */
export declare const DEFAULT_ENDPOINT: "/api/ice-servers";

/** Who served the credentials; `none` is a STUN-only list. */
export type IceServersProvider = "cloudflare" | "metered" | "shared-secret" | "twilio" | "xirsys" | "none";

/** The server's error codes (see docs/http-api.md#errors); later versions may add others. */
export type IceServersServerErrorCode =
  | "invalid_request"
  | "invalid_ttl"
  | "invalid_json"
  | "unauthorized"
  | "origin_not_allowed"
  | "invalid_revoke_token"
  | "revoke_token_expired"
  | "not_found"
  | "method_not_allowed"
  | "not_revocable"
  | "payload_too_large"
  | "unsupported_media_type"
  | "rate_limited"
  | "not_configured"
  | "invalid_config"
  | "internal_error"
  | "auth_unavailable"
  | "rate_limit_unavailable"
  | "upstream_unauthorized"
  | "upstream_error"
  | "upstream_invalid_response"
  | "upstream_unreachable"
  | "upstream_rate_limited"
  | "upstream_unavailable"
  | "upstream_timeout";

/** The client's own codes, for failures that carry no server error body. */
export type IceServersClientErrorCode =
  /** fetch rejected: offline, DNS, connection refused, CORS. */
  | "network_error"
  /** No complete answer within `timeoutMs`. */
  | "timeout"
  /** The caller's `signal` aborted the request. */
  | "aborted"
  /** An error status without a `{"error": {"code"}}` body (a proxy's or host's own error page). */
  | "http_error"
  /** A 200 whose body is not `{iceServers, ttl, …}`. */
  | "invalid_response"
  /** The `headers` function threw (or rejected), or gave headers that are not valid; the error is the `cause`. */
  | "headers_failed"
  /**
   * keepFresh: `pc.setConfiguration` threw on the new servers. The same answer is applied again
   * with backoff until it expires (`retryInMs` says when), or, for a refusal the same servers would
   * meet again (`InvalidModificationError`, `InvalidAccessError`, `SyntaxError`, `TypeError`), the
   * connection is let go (`retryInMs` undefined): keepFresh stops.
   */
  | "apply_failed"
  /** keepFresh: `pc.restartIce()` threw; the fresh servers stay applied and refreshing goes on. */
  | "restart_failed"
  /**
   * keepFresh: the answer was not applied because it is worse than the servers in use: `degraded`
   * (STUN-only), or without a TURN URL while the connection is relay-only or relayed. Retried with backoff.
   */
  | "worse_answer"
  /**
   * keepFresh: after an ICE restart, this side's selected candidate pair stayed on a relay of an
   * earlier ICE generation through `maxStaleRestarts` more restarts of its own.
   */
  | "restart_incomplete"
  /** keepFresh: ICE stayed failed or disconnected through `maxRecoveries` restarts. */
  | "recovery_failed"
  /** The revoke request failed without a server error code. */
  | "revoke_failed";

/** `string & {}` keeps editor completion for the known codes while allowing codes added later. */
export type IceServersErrorCode = IceServersServerErrorCode | IceServersClientErrorCode | (string & {});

export declare class IceServersError extends Error {
  constructor(code: IceServersErrorCode, message: string, details?: { status?: number; retryAfter?: number; cause?: unknown });
  readonly name: "IceServersError";
  readonly code: IceServersErrorCode;
  /** The HTTP status, or 0 when no answer arrived. */
  readonly status: number;
  /** Seconds, from the answer's `Retry-After` header, when it had one. */
  readonly retryAfter?: number;
}

/** Any fetch-like function; `globalThis.fetch` by default. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface GetIceServersOptions {
  /** Default `"/api/ice-servers"` (same origin). A full URL works too, if the server allows your origin. */
  endpoint?: string;
  /** Credential lifetime to ask for, in whole seconds; default: the server's `TURN_TTL`. */
  ttl?: number;
  fetch?: FetchLike;
  /**
   * Extra request headers, such as `Authorization`; or a function returning them, called before
   * each request (so that keepFresh sends a current token, not the one it started with).
   */
  headers?: HeadersInit | (() => HeadersInit | Promise<HeadersInit>);
  signal?: AbortSignal;
  /** Gives up with code `timeout` after this long; default 10000 ms (1 to 2^31−1). */
  timeoutMs?: number;
}

export interface IceServers {
  /** Pass it to `new RTCPeerConnection(config)`, or spread it: `{ ...config, iceTransportPolicy: "relay" }`. */
  config: RTCConfiguration & { iceServers: RTCIceServer[] };
  /** Lifetime in seconds, as granted. */
  ttl: number;
  /** When the credentials expire, as the server's clock has it (the body's `expiresAt`, parsed). */
  expiresAt: Date;
  /** When the request was sent, on this device's clock; `fetchedAt + ttl` is the expiry on this clock. */
  fetchedAt: Date;
  provider: IceServersProvider | (string & {});
  /** Present when the server issues revocable credentials: POST it to `${endpoint}/revoke`. */
  revokeToken?: string;
  /** True when every provider failed and the server fell back to STUN-only. */
  degraded: boolean;
}

/** Fetches ICE servers from the service; rejects with an {@link IceServersError}, a TypeError for a bad `ttl`, or a RangeError for a bad `timeoutMs`. */
export declare function getIceServers(options?: GetIceServersOptions): Promise<IceServers>;

/** `${endpoint}/revoke`, without the endpoint's query string. */
export declare function revokeUrl(endpoint?: string): string;

/**
 * POSTs `{"revokeToken": token}` to `${endpoint}/revoke`; rejects with an {@link IceServersError}.
 * With `headers` that are not a function, the request is sent before it returns (usable in `pagehide`).
 */
export declare function revokeIceServers(
  revokeToken: string,
  options?: Pick<GetIceServersOptions, "endpoint" | "fetch" | "headers">,
): Promise<void>;

/** The events keepFresh listens to on a peer connection. */
export type PeerConnectionEvent =
  | "connectionstatechange"
  | "iceconnectionstatechange"
  | "icegatheringstatechange"
  | "signalingstatechange"
  | "icecandidate";

/** What keepFresh needs of a peer connection; an `RTCPeerConnection` fits. */
export interface PeerConnectionLike {
  /** Where a browser lacks it (Firefox before 113), `iceConnectionState` is read instead. */
  readonly connectionState?: RTCPeerConnectionState;
  readonly iceConnectionState?: RTCIceConnectionState;
  /** A restart waits (up to 5 s) while the previous negotiation still gathers. */
  readonly iceGatheringState?: RTCIceGatheringState;
  readonly signalingState: RTCSignalingState;
  /** Its `a=ice-ufrag` tells ICE generations apart. */
  readonly localDescription?: { readonly sdp: string } | null;
  getConfiguration(): RTCConfiguration;
  setConfiguration(configuration?: RTCConfiguration): void;
  addEventListener(type: PeerConnectionEvent, listener: (event: Event) => void): void;
  removeEventListener(type: PeerConnectionEvent, listener: (event: Event) => void): void;
  /** Without it, keepFresh never restarts ICE (nor recovers); without `getStats`, `"relayed"` never restarts. */
  restartIce?(): void;
  getStats?(): Promise<RTCStatsReport>;
}

/**
 * When keepFresh restarts ICE after applying fresh servers: `"relayed"` (the default) when the
 * selected candidate pair's local candidate is a TURN relay, `"always"`, or `"never"`.
 */
export type RestartIceMode = "relayed" | "always" | "never";

export interface KeepFreshOptions extends GetIceServersOptions {
  /** The answer `pc` was created with: the first refresh is scheduled from it. Without it, keepFresh fetches at once. */
  initial?: IceServers;
  /**
   * When `pc` closes (or the page fires `pagehide`), POST every revokeToken this call knows whose
   * credentials have not expired (including `initial`'s) to `${endpoint}/revoke`. Default false.
   */
  revokeOnClose?: boolean;
  /** Aborting it stops keepFresh, as the stop function does (without revoking). */
  signal?: AbortSignal;
  /** Fraction of the lifetime at which to refresh; default 0.8. */
  refreshAt?: number;
  /** Relative spread around `refreshAt` and each retry delay, ±; default 0.1 (0 to 0.5). */
  jitter?: number;
  /**
   * The shortest time between two refreshes; default 5000 ms. A TTL so short that `refreshAt` of it
   * is less is refreshed this often instead (its credentials expire between refreshes), with a
   * console warning. 0 turns the floor off.
   */
  minRefreshMs?: number;
  /**
   * First retry delay after a retryable failure (no answer, 5xx, 408, 429, a 401 when `headers` is
   * a function, an unusable or worse answer), doubled on each failure; default 1000 ms.
   */
  minRetryMs?: number;
  /**
   * Largest backoff delay; default 60000 ms. A longer `Retry-After` from the server still wins,
   * except over the one attempt always made `timeoutMs` + 1 s (at most) before the credentials expire.
   */
  maxRetryMs?: number;
  /** How often the connection's state is checked, since `pc.close()` fires no event; default 1000 ms. */
  closeCheckMs?: number;
  /** Random source in [0, 1), for the jitter (a fixed one makes tests repeatable); default Math.random. */
  random?: () => number;
  /**
   * After fresh servers are applied, once `pc` is `connected` and `stable` (at once, or when a
   * negotiation under way ends), call `pc.restartIce()` (and nothing else): your
   * `negotiationneeded` handler then sends the offer that gathers new relays under the fresh
   * credentials. An app that never renegotiates gets no restart. Each side then checks that its
   * selected pair moved to the new ICE generation (restarting again if not), and a connection whose
   * ICE failed, or stayed disconnected, is restarted too; `"never"` turns all of it off. Default `"relayed"`.
   */
  restartIce?: RestartIceMode;
  /**
   * A client error (4xx other than 408, 429, and 401 when `headers` is a function) would come back
   * the same on every retry: the next request waits this long; default 600000 ms (10 min).
   */
  refusedRetryMs?: number;
  /** How long ICE may stay `disconnected` before keepFresh restarts it; default 2000 ms. */
  disconnectedGraceMs?: number;
  /**
   * How long after a new ICE generation is connected and stable keepFresh reads `getStats()` to
   * check that this side's selected pair moved to it; default 2000 ms.
   */
  verifyAfterMs?: number;
  /** Restarts for a side left on an earlier generation, per refresh; default 2. Then `restart_incomplete`. */
  maxStaleRestarts?: number;
  /** Restarts to bring a failed or disconnected connection back, with growing waits; default 5. Then `recovery_failed`. */
  maxRecoveries?: number;
  /**
   * Called after new servers were fetched and handed to the connection(s); a connection whose
   * `setConfiguration` refuses them reports `apply_failed`.
   */
  onRefresh?: (fresh: IceServers) => void;
  /** Called after each `pc.restartIce()` keepFresh made: why, and the servers applied last (if any). */
  onRestart?: (info: RestartInfo) => void;
  /** Called on each failure; `retryInMs` is undefined when nothing is retried (a revocation, a restart, a refusal). */
  onError?: (error: unknown, info: { attempt: number; retryInMs: number | undefined }) => void;
}

/**
 * Why keepFresh restarted ICE: `"refresh"` (fresh servers were applied), `"stale_generation"`
 * (this side's selected pair stayed on a relay of an earlier ICE generation), `"failed"` (ICE
 * failed) or `"disconnected"` (ICE stayed disconnected past `disconnectedGraceMs`).
 */
export type RestartReason = "refresh" | "stale_generation" | "failed" | "disconnected";

export interface RestartInfo {
  reason: RestartReason;
  /** The servers applied last, or undefined before the first answer. */
  fresh: IceServers | undefined;
  mode: "relayed" | "always";
  /** The connection restarted (one of several, with createIceSource). */
  pc: PeerConnectionLike;
}

/** Stops refreshing; with `{ revoke: true }`, also revokes the known tokens. Resolves once revocations settled. */
export type StopKeepFresh = (options?: { revoke?: boolean }) => Promise<void>;

/** Options of createIceSource: those of keepFresh, which apply to every attached connection. */
export type IceSourceOptions = KeepFreshOptions;

export interface IceSource {
  /**
   * Keeps `pc` (made with this source's servers: `await source.servers()`) fresh from now on.
   * Returns a function that lets go of it without revoking anything. When the last attached
   * connection closes, the source stops (revoking, with `revokeOnClose`).
   */
  attach(pc: PeerConnectionLike): () => void;
  /** The current answer, or the first one once it arrives; rejects with `aborted` when the source stopped first. */
  servers(): Promise<IceServers>;
  /** The answer applied last (or `initial`), if any. */
  readonly current: IceServers | undefined;
  /** Stops refreshing; with `{ revoke: true }`, also revokes the known tokens. Resolves once revocations settled. */
  stop(options?: { revoke?: boolean }): Promise<void>;
}

/**
 * One stream of fresh ICE servers for several connections (an SFU's send and receive pair, a
 * mesh): fetches once per period and applies each answer to every attached connection, with the
 * restarts, checks and recovery keepFresh does for one. Throws a TypeError or RangeError for a bad option.
 */
export declare function createIceSource(options?: IceSourceOptions): IceSource;

/**
 * Refreshes `pc`'s TURN credentials before they expire, with
 * `pc.setConfiguration({ ...pc.getConfiguration(), iceServers })`, until `pc` closes. New servers
 * only reach the next gathering: relays in use keep their allocation under the old credential
 * (which a provider such as Cloudflare refuses to refresh once it expired) until ICE restarts,
 * which `restartIce` does when the call is relayed; it then checks that this side moved to its new
 * relays, and restarts ICE that failed. `createIceSource(options).attach(pc)`, with the source's
 * `stop` returned. Throws a TypeError or RangeError for a bad option.
 */
export declare function keepFresh(pc: PeerConnectionLike, options?: KeepFreshOptions): StopKeepFresh;
