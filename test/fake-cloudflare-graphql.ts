/**
 * A fake Cloudflare GraphQL Analytics API for Realtime TURN usage, on 127.0.0.1, faithful to:
 * - https://developers.cloudflare.com/realtime/turn/analytics/ : POST /client/v4/graphql, a token
 *   with "Account Analytics", dataset viewer.accounts(filter: {accountTag}).callsTurnUsageAdaptiveGroups
 *   with `sum { egressBytes ingressBytes }`, dimensions keyId, customIdentifier, username, filters on
 *   the time range, key and identifier, orderBy [sum_egressBytes_DESC]; answered {"data": {"viewer":
 *   {…: [{"callsTurnUsageAdaptiveGroups": [{"dimensions": …, "sum": {"egressBytes": N}}]}]}}, "errors": null}.
 * - https://developers.cloudflare.com/analytics/graphql-api/errors/ : a 200 can carry errors, as
 *   {"data": null, "errors": [{"message", "path", "extensions": {"timestamp"}}]}.
 * It answers the two queries the service sends (a key's total, and per customIdentifier) from
 * figures a test sets; with no traffic it answers an empty list, as we assume Cloudflare does.
 */
import { startFakeUpstream, type FakeReply, type FakeUpstream } from "./fake-upstream.ts";

export interface FakeCloudflareGraphqlOptions {
  accountId: string;
  /** The analytics token the fake accepts. */
  token: string;
}

export interface FakeCloudflareGraphql extends FakeUpstream {
  /** The URL to configure as CLOUDFLARE_GRAPHQL_URL. */
  readonly url: string;
  /** Egress bytes this month by TURN key id. */
  readonly keyBytes: Map<string, number>;
  /** Egress bytes this month by customIdentifier (one TURN key's). */
  readonly userBytes: Map<string, number>;
  /** TURN usernames by customIdentifier, for the query that names them. */
  readonly usernames: Map<string, string[]>;
  /** Queries answered, by kind. */
  readonly queries: { key: number; users: number };
}

const graphqlError = (message: string): FakeReply => ({
  status: 200,
  body: { data: null, errors: [{ message, path: ["viewer", "accounts"], extensions: { timestamp: new Date().toISOString() } }] },
});

export async function startFakeCloudflareGraphql(options: FakeCloudflareGraphqlOptions): Promise<FakeCloudflareGraphql> {
  const keyBytes = new Map<string, number>();
  const userBytes = new Map<string, number>();
  const usernames = new Map<string, string[]>();
  const queries = { key: 0, users: 0 };

  const upstream = await startFakeUpstream({
    wrongShape: { data: { viewer: { accounts: [{ callsTurnUsageAdaptiveGroups: [{ sum: { egressBytes: "lots" } }] }] } }, errors: null },
    route(request) {
      if (request.path !== "/client/v4/graphql")
        return { status: 404, body: { success: false, errors: [{ code: 7000, message: "No route for that URI" }] } };
      if (request.method !== "POST")
        return { status: 405, body: { success: false, errors: [{ code: 10405, message: "Method not allowed" }] } };
      if (request.headers.authorization !== `Bearer ${options.token}`) return graphqlError("not authorized for that account");
      let body: { query?: unknown; variables?: Record<string, unknown> };
      try {
        body = JSON.parse(request.body);
      } catch {
        return graphqlError("error parsing the request body");
      }
      const query = typeof body.query === "string" ? body.query : "";
      const variables = body.variables ?? {};
      if (!query.includes("callsTurnUsageAdaptiveGroups")) return graphqlError("unknown field");
      if (variables.accountTag !== options.accountId) return graphqlError("does not have access to the path");
      if (typeof variables.since !== "string" || typeof variables.until !== "string" || !(variables.since < variables.until)) {
        return graphqlError("error parsing args: a time range is required");
      }
      const keyId = String(variables.keyId ?? "");
      let groups: unknown[];
      if (query.includes("username")) {
        const wanted = Array.isArray(variables.users) ? (variables.users as string[]) : [...usernames.keys()];
        groups = wanted.flatMap((customIdentifier) =>
          (usernames.get(customIdentifier) ?? []).map((username) => ({
            dimensions: { customIdentifier, username },
            sum: { egressBytes: 1 },
          })),
        );
      } else if (query.includes("customIdentifier")) {
        queries.users += 1;
        const limit = Number(variables.limit ?? 100);
        groups = [...userBytes]
          .sort((a, b) => b[1] - a[1])
          .slice(0, limit)
          .map(([customIdentifier, egressBytes]) => ({ dimensions: { customIdentifier }, sum: { egressBytes } }));
      } else {
        queries.key += 1;
        const bytes = keyBytes.get(keyId);
        groups = bytes === undefined ? [] : [{ sum: { egressBytes: bytes } }];
      }
      return { status: 200, body: { data: { viewer: { accounts: [{ callsTurnUsageAdaptiveGroups: groups }] } }, errors: null } };
    },
  });

  const reset = upstream.reset;
  return Object.assign(upstream, {
    url: `${upstream.origin}/client/v4/graphql`,
    keyBytes,
    userBytes,
    usernames,
    queries,
    reset() {
      reset();
      queries.key = 0;
      queries.users = 0;
    },
  });
}
