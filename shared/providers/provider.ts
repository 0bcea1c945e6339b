import type { Env } from "../env.ts";
import type { IceServer } from "../ice-urls.ts";
import type { UpstreamReply, UpstreamRequest } from "../upstream.ts";

export type ProviderId = "cloudflare" | "metered" | "shared-secret";

/** What a caller asked for, resolved: the TTL granted and whom the credential is for. */
export interface IssueRequest {
  ttl: number;
  /** Stamped on the credential where the provider has a place for it: the user, else a random id. */
  identity: string;
  /** The verified user (a JWT's sub), when the caller was authenticated. */
  user?: string;
  /** Milliseconds since the epoch. */
  now: number;
}

/** The only way a provider reaches the network: timed, retried and budgeted by the chain. */
export interface Upstream {
  call(request: UpstreamRequest): Promise<UpstreamReply>;
}

/**
 * One TURN provider: it reads its own variables, and issues ICE servers by
 * preparing requests and processing replies. A new provider is one file
 * implementing this, added to the list in providers/index.ts.
 */
export interface Provider<C> {
  readonly id: ProviderId;
  /** Its name in messages. */
  readonly label: string;
  /** Every variable it reads. */
  readonly variables: readonly string[];
  /** What to set to enable it, for error messages. */
  readonly enableHint: string;
  /** Its configuration; undefined when none of its variables is set; throws a ServiceError when half set. */
  configure(env: Env): C | undefined;
  issue(config: C, request: IssueRequest, upstream: Upstream): Promise<IceServer[]>;
  /**
   * Revokes one credential it issued, by TURN username. Absent where credentials
   * cannot be revoked; a provider may also throw not_revocable for a mode of its own.
   */
  revoke?(config: C, username: string, upstream: Upstream): Promise<void>;
}
