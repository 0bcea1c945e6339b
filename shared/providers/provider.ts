import type { Env } from "../env.ts";
import type { Hmac } from "../hmac.ts";
import type { IceServer } from "../ice-urls.ts";
import type { Continent } from "../routing/continents.ts";
import type { UpstreamReply, UpstreamRequest, Upstream } from "../upstream/upstream.ts";

/**
 * The longest credential this service hands out, from any provider: Cloudflare's limit, two
 * days. A provider that documents no limit of its own declares this one.
 */
export const SERVICE_MAX_TTL = 172_800;

/** What a caller asked for, resolved: the TTL to ask for and whom the credential is for. */
export interface IssueRequest {
  /** Seconds; never more than the provider's maxTtl (the chain clamps it). */
  ttl: number;
  /** Stamped on the credential where the provider has a place for it: the user, else a random id. */
  identity: string;
  /** Whom the caller names: a verified user (a JWT's sub), or the username a TURN REST API caller gave. */
  user?: string;
  /** Milliseconds since the epoch. */
  now: number;
  /** The caller's continent, where the host reported a location: for a provider's own region choice. */
  continent?: Continent;
  /** The service instance's HMAC, for a provider that computes its credentials (shared-secret). */
  hmac: Hmac;
}

/** ICE servers, and how long the provider says their credential lasts. */
export interface Grant {
  iceServers: IceServer[];
  /** Seconds the credential is valid for, as granted: at most what was asked. */
  ttl: number;
}

/**
 * How to read what a provider has relayed this month (or billing cycle), from its own usage API.
 * Built once per configuration: the request carries the credentials, the parser checks the shape.
 */
export interface UsageSource {
  /** Names this account or key, not a secret: figures are shared under it between instances. */
  readonly scope: string;
  /** The period the figure covers: the calendar month in UTC, or the provider's own billing cycle. */
  readonly period: "month" | "cycle";
  request(nowMs: number): UpstreamRequest;
  /** Bytes relayed so far in the period; throws a ServiceError for an error or a shape it cannot trust. */
  bytes(reply: UpstreamReply): number;
  /** Per-user figures, where the provider counts by an identifier we stamp on each credential. */
  readonly users?: {
    request(nowMs: number): UpstreamRequest;
    /** Bytes per user this month; `floor`: a user not listed relayed at most this much. */
    bytes(reply: UpstreamReply): { byUser: Map<string, number>; floor: number };
  };
}

/**
 * One TURN provider: it reads its own variables, and issues ICE servers by
 * preparing requests and processing replies. A new provider is one file
 * implementing this, added to the list in providers/index.ts, from which every
 * other list of providers (ids, revoke tokens, TURN_PROVIDERS) follows.
 */
export interface Provider<C, Id extends string = string> {
  /** Its name in TURN_PROVIDERS, in answers and in revoke tokens. */
  readonly id: Id;
  /** Its name in messages. */
  readonly label: string;
  /** The longest credential it issues, in seconds: it is never asked for more. */
  readonly maxTtl: number;
  /** Every variable it reads. */
  readonly variables: readonly string[];
  /** What to set to enable it, for error messages. */
  readonly enableHint: string;
  /** Its configuration; undefined when none of its variables is set; throws a ServiceError when half set. */
  configure(env: Env): C | undefined;
  issue(config: C, request: IssueRequest, upstream: Upstream): Promise<Grant>;
  /**
   * Revokes one credential it issued, by TURN username. Absent where credentials
   * cannot be revoked; a provider may also throw not_revocable for a mode of its own.
   */
  revoke?(config: C, username: string, upstream: Upstream): Promise<void>;
  /**
   * Where its usage figure comes from, for TURN_MONTHLY_LIMITS: reads its own extra variables
   * (throwing a ServiceError naming what is missing). Absent where the provider publishes none.
   */
  usage?: {
    readonly variables: readonly string[];
    configure(env: Env, config: C): UsageSource;
  };
}
