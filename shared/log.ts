/**
 * The one logger shape of the service, and its two formats. Every part of the core logs through
 * a Logger: a sentence for people, and with it, optionally, the event's stable fields.
 * LOG_FORMAT=text (the default) writes the sentence alone, as before; LOG_FORMAT=json writes
 * one JSON object per line instead: one per operator event and one per request.
 * No entry ever carries a secret, a token, a credential or a client address beyond the
 * rate limit's key (shared/rate-limit/client-key.ts): the fields below are all there is.
 */
import { readVar, type Env } from "./env.ts";

/** An operator event's stable fields: what happened, and to which provider, with which error code. */
export interface LogEvent {
  /** Such as `provider_failed`, `config_error`: the list is in docs/logging.md. */
  event: string;
  provider?: string;
  error?: string;
}

/**
 * Where log lines go: `console` fits, and so does any object with these methods.
 * `info` (request lines of answered requests) falls back to `warn` where absent.
 */
export interface Logger {
  info?(message: string, event?: LogEvent): void;
  warn(message: string, event?: LogEvent): void;
  error(message: string, event?: LogEvent): void;
}

export type LogFormat = "text" | "json";
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

export type CallerKind = "anonymous" | "bearer" | "user" | "key";

/** What one request did, gathered on the way (the chain fills in the providers). */
export interface RequestTrace {
  route?: string;
  caller: CallerKind;
  /** The provider that served, or `none` for a STUN-only answer. */
  provider?: string;
  /** Each provider asked, in order, with its failure code when it failed. */
  tried: { provider: string; error?: string }[];
  /** Upstream HTTP attempts made for the providers, retries included. */
  attempts: number;
  /** The rate limit's key for the client's address (IPv6 as its /64), when the host gave one. */
  client?: string;
  /** The caller's country, as the host reported it: no finer location is ever logged. */
  country?: string;
  /** The TURN_ROUTES rule that chose the providers, by its places (`CN,HK`). */
  rule?: string;
  /** The serving provider's usage figure against its TURN_MONTHLY_LIMITS limit, when it has one. */
  usage?: UsageField;
}

/** Bytes this month as last read (absent when no usable figure is held), the limit, and the figure's age in seconds. */
export interface UsageField {
  provider: string;
  bytes?: number;
  limit: number;
  ageS?: number;
}

export const newTrace = (): RequestTrace => ({ caller: "anonymous", tried: [], attempts: 0 });

/** One request's line: `type: "request"`. */
export interface RequestEntry {
  time: string;
  level: "info" | "error";
  type: "request";
  route: string;
  method: string;
  status: number;
  error?: string;
  provider?: string;
  usage?: UsageField;
  tried: { provider: string; error?: string }[];
  attempts: number;
  durationMs: number;
  caller: CallerKind;
  client?: string;
  country?: string;
  rule?: string;
}

/** One operator event's line: `type: "operator"`. */
export interface OperatorEntry extends LogEvent {
  time: string;
  level: "info" | "warn" | "error";
  type: "operator";
  message: string;
}

/**
 * LOG_FORMAT, read leniently: an invalid value counts as text here, so that the error about it
 * (from loadConfig, naming LOG_FORMAT) can still be logged.
 */
export function logFormatOf(env: Env): LogFormat {
  return readVar(env, "LOG_FORMAT")?.toLowerCase() === "json" ? "json" : "text";
}

export interface RequestLogger extends Required<Logger> {
  readonly format: LogFormat;
  /** Writes the request's line (json only: text keeps to operator events, as it always has). */
  request(entry: Omit<RequestEntry, "time" | "level" | "type">): void;
}

/** The core's logger for one request: `sink` receives finished lines in `format`. */
export function formatLogger(sink: Logger, format: LogFormat, now: () => number = Date.now): RequestLogger {
  const time = () => new Date(now()).toISOString();
  const write = (level: "info" | "warn" | "error", line: string) =>
    (level === "info" ? (sink.info ?? sink.warn) : sink[level]).call(sink, line);
  const operator = (level: "info" | "warn" | "error") => (message: string, event?: LogEvent) => {
    if (format === "text") return write(level, message);
    const entry: OperatorEntry = { time: time(), level, type: "operator", event: event?.event ?? "message", message };
    if (event?.provider !== undefined) entry.provider = event.provider;
    if (event?.error !== undefined) entry.error = event.error;
    write(level, JSON.stringify(entry));
  };
  return {
    format,
    info: operator("info"),
    warn: operator("warn"),
    error: operator("error"),
    request(fields) {
      if (format === "text") return;
      const level = fields.status >= 500 ? "error" : "info";
      write(level, JSON.stringify({ time: time(), level, type: "request", ...fields } satisfies RequestEntry));
    },
  };
}
