/**
 * Cloudflare Realtime TURN usage, from the GraphQL Analytics API
 * (https://developers.cloudflare.com/realtime/turn/analytics/): POST {query, variables} to
 * https://api.cloudflare.com/client/v4/graphql with a token holding "Account Analytics", dataset
 * viewer.accounts(filter: {accountTag}).callsTurnUsageAdaptiveGroups, metric sum { egressBytes },
 * dimensions including customIdentifier; filters on the TURN key and the time range. A 200 can
 * still carry an error: `errors` is null or a list (analytics/graphql-api/errors). The figures are
 * estimates from sampled data and lag by about 30 s; the API allows about 300 queries per 5 minutes.
 * What the docs leave open: a month with no traffic yet is read as an empty list, which is zero.
 */
import * as v from "valibot";
import { readVar, secureUrl, type Env } from "../env.ts";
import { ServiceError } from "../errors.ts";
import type { UsageSource } from "../providers/provider.ts";
import { parseReply, type UpstreamReply, type UpstreamRequest } from "../upstream/upstream.ts";
import { monthOf } from "./period.ts";

export const CLOUDFLARE_GRAPHQL_DEFAULT_URL = "https://api.cloudflare.com/client/v4/graphql";
const LABEL = "Cloudflare's analytics";
/** The most groups one query asks for: per-user figures beyond it are bounded by the smallest listed. */
export const MAX_USER_GROUPS = 10_000;

const GraphqlUrl = secureUrl("CLOUDFLARE_GRAPHQL_URL");

const KEY_QUERY = `query TurnKeyUsage($accountTag: string!, $keyId: string!, $since: Time!, $until: Time!) {
  viewer { accounts(filter: { accountTag: $accountTag }) {
    callsTurnUsageAdaptiveGroups(limit: 1, filter: { keyId: $keyId, datetimeMinute_geq: $since, datetimeMinute_lt: $until }) {
      sum { egressBytes }
    }
  } }
}`;

const USERS_QUERY = `query TurnUserUsage($accountTag: string!, $keyId: string!, $since: Time!, $until: Time!, $limit: uint64!) {
  viewer { accounts(filter: { accountTag: $accountTag }) {
    callsTurnUsageAdaptiveGroups(limit: $limit, orderBy: [sum_egressBytes_DESC], filter: { keyId: $keyId, datetimeMinute_geq: $since, datetimeMinute_lt: $until }) {
      dimensions { customIdentifier }
      sum { egressBytes }
    }
  } }
}`;

const USERNAMES_QUERY = `query TurnUsernames($accountTag: string!, $keyId: string!, $since: Time!, $until: Time!, $users: [string!]!, $limit: uint64!) {
  viewer { accounts(filter: { accountTag: $accountTag }) {
    callsTurnUsageAdaptiveGroups(limit: $limit, filter: { keyId: $keyId, customIdentifier_in: $users, datetimeMinute_geq: $since, datetimeMinute_lt: $until }) {
      dimensions { customIdentifier username }
      sum { egressBytes }
    }
  } }
}`;

const Bytes = v.pipe(v.number(), v.finite(), v.minValue(0));
const replyOf = <T extends v.GenericSchema>(group: T) =>
  v.object({
    data: v.nullable(
      v.object({
        viewer: v.object({ accounts: v.array(v.object({ callsTurnUsageAdaptiveGroups: v.array(group) })) }),
      }),
    ),
    errors: v.nullish(v.array(v.unknown())),
  });
const KeyReply = replyOf(v.object({ sum: v.object({ egressBytes: Bytes }) }));
const UsersReply = replyOf(
  v.object({ dimensions: v.object({ customIdentifier: v.nullish(v.string()) }), sum: v.object({ egressBytes: Bytes }) }),
);

/** The one account's groups; a GraphQL error, or an account the token cannot see, is a failure. */
function groupsOf<G>(answer: {
  data: { viewer: { accounts: { callsTurnUsageAdaptiveGroups: G[] }[] } } | null;
  errors?: unknown[] | null;
}) {
  if ((answer.errors && answer.errors.length > 0) || !answer.data) {
    throw new ServiceError("upstream_error", `${LABEL} answered with an error`);
  }
  const accounts = answer.data.viewer.accounts;
  if (accounts.length !== 1) throw new ServiceError("upstream_invalid_response", `${LABEL} did not answer for the account`);
  return accounts[0].callsTurnUsageAdaptiveGroups;
}

const UsernamesReply = replyOf(
  v.object({ dimensions: v.object({ customIdentifier: v.nullish(v.string()), username: v.nullish(v.string()) }) }),
);

/** A GraphQL Time, to the second. */
const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The longest a Cloudflare credential lives: a username seen since then may still be live. */
const LIVE_WINDOW_MS = 172_800_000;

/** The TURN usernames the analytics name for `users` over the last 48 hours: those that may still relay. */
export function prepareLiveUsernames(
  analytics: CloudflareAnalytics,
  keyId: string,
  users: readonly string[],
  nowMs: number,
): UpstreamRequest {
  return graphql(analytics, USERNAMES_QUERY, {
    accountTag: analytics.accountId,
    keyId,
    since: isoSeconds(nowMs - LIVE_WINDOW_MS),
    until: isoSeconds(nowMs + 60_000),
    users,
    limit: MAX_USER_GROUPS,
  });
}

export function processLiveUsernames(reply: UpstreamReply): Map<string, string[]> {
  const byUser = new Map<string, string[]>();
  for (const group of groupsOf(parseReply(reply, UsernamesReply, LABEL))) {
    const { customIdentifier: user, username } = group.dimensions;
    if (!user || !username) continue;
    byUser.set(user, [...(byUser.get(user) ?? []), username]);
  }
  return byUser;
}

export interface CloudflareAnalytics {
  readonly accountId: string;
  readonly token: string;
  readonly url: string;
}

export function configureCloudflareAnalytics(env: Env): CloudflareAnalytics {
  const accountId = readVar(env, "CLOUDFLARE_ACCOUNT_ID");
  const token = readVar(env, "CLOUDFLARE_ANALYTICS_TOKEN");
  const missing = [!accountId && "CLOUDFLARE_ACCOUNT_ID", !token && "CLOUDFLARE_ANALYTICS_TOKEN"].filter(Boolean);
  if (missing.length > 0) {
    throw new ServiceError(
      "not_configured",
      `Cloudflare's usage is read from its GraphQL Analytics API, which needs ${missing.join(" and ")} (a token with Account Analytics: Read)`,
    );
  }
  if (!/^[0-9a-f]{32}$/i.test(accountId!)) throw new ServiceError("invalid_config", "CLOUDFLARE_ACCOUNT_ID must be 32 hexadecimal digits");
  const url = v.safeParse(GraphqlUrl, readVar(env, "CLOUDFLARE_GRAPHQL_URL") ?? CLOUDFLARE_GRAPHQL_DEFAULT_URL);
  if (!url.success) throw new ServiceError("invalid_config", url.issues[0].message);
  return { accountId: accountId!, token: token!, url: url.output };
}

function graphql(analytics: CloudflareAnalytics, query: string, variables: Record<string, unknown>): UpstreamRequest {
  return {
    url: analytics.url,
    method: "POST",
    headers: { authorization: `Bearer ${analytics.token}`, "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ query, variables }),
  };
}

function monthVariables(analytics: CloudflareAnalytics, keyId: string, nowMs: number) {
  const month = monthOf(nowMs);
  return {
    accountTag: analytics.accountId,
    keyId,
    since: isoSeconds(month.startMs),
    until: isoSeconds(month.endMs),
  };
}

export const cloudflareUsage = {
  variables: ["CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_ANALYTICS_TOKEN", "CLOUDFLARE_GRAPHQL_URL"],
  configure(env: Env, config: { keyId: string }): UsageSource {
    const analytics = configureCloudflareAnalytics(env);
    return {
      scope: config.keyId,
      period: "month",
      request: (nowMs) => graphql(analytics, KEY_QUERY, monthVariables(analytics, config.keyId, nowMs)),
      bytes(reply) {
        return groupsOf(parseReply(reply, KeyReply, LABEL)).reduce((sum, group) => sum + group.sum.egressBytes, 0);
      },
      users: {
        request: (nowMs) => graphql(analytics, USERS_QUERY, { ...monthVariables(analytics, config.keyId, nowMs), limit: MAX_USER_GROUPS }),
        bytes(reply) {
          const groups = groupsOf(parseReply(reply, UsersReply, LABEL));
          const byUser = new Map<string, number>();
          for (const group of groups) {
            const user = group.dimensions.customIdentifier;
            if (user) byUser.set(user, (byUser.get(user) ?? 0) + group.sum.egressBytes);
          }
          // A full page leaves users out: none of them relayed more than the last one listed.
          const floor = groups.length >= MAX_USER_GROUPS ? Math.min(...groups.map((group) => group.sum.egressBytes)) : 0;
          return { byUser, floor };
        },
      },
    };
  },
};
