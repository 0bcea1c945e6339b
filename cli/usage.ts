/**
 * turn-keys usage: each provider's usage against its TURN_MONTHLY_LIMITS limit, read from the
 * providers' usage APIs with the server's own configuration and readers (shared/spend/), and,
 * with --by-user, Cloudflare's per-user figures against TURN_USER_MONTHLY_LIMIT. With
 * --revoke-over-quota it revokes the TURN usernames Cloudflare's analytics name for each user
 * over the quota in the last 48 hours (the longest a credential lives).
 */
import { parseConfig, type Config } from "../shared/config.ts";
import { ServiceError } from "../shared/errors.ts";
import { PROVIDERS } from "../shared/providers/index.ts";
import type { CloudflareConfig } from "../shared/providers/cloudflare/turn.ts";
import { prepareRevokeCredential, processCloudflareRevoke } from "../shared/providers/cloudflare/turn.ts";
import type { UsageSource } from "../shared/providers/provider.ts";
import { formatBytes } from "../shared/spend/amount.ts";
import { configureCloudflareAnalytics, prepareLiveUsernames, processLiveUsernames } from "../shared/spend/cloudflare-usage.ts";
import { fetchWithin, type UpstreamRequest } from "../shared/upstream/upstream.ts";
import { printable } from "./printable.ts";

const TIMEOUT_MS = 10_000;
const BAR_WIDTH = 20;

export interface UsageOptions {
  json: boolean;
  byUser: boolean;
  revokeOverQuota: boolean;
}

interface ProviderRow {
  provider: string;
  bytes?: number;
  limit?: number;
  period: "month" | "cycle";
  error?: string;
}

interface UserRow {
  user: string;
  bytes: number;
  quota?: number;
  revoked?: number;
}

/** One reply, as the server reads it; a failure is its safe message (never a URL or a body). */
async function ask<T>(request: UpstreamRequest, label: string, judge: (reply: Awaited<ReturnType<typeof fetchWithin>>) => T): Promise<T> {
  return judge(await fetchWithin(fetch, request, TIMEOUT_MS, label));
}

const failure = (error: unknown) => (error instanceof ServiceError ? error.message : "the read failed unexpectedly");

/** A bar of `#` for the share used, up to the limit, and a `!` past it. */
export function bar(bytes: number, limit: number): string {
  const share = Math.min(1, bytes / limit);
  const filled = Math.round(share * BAR_WIDTH);
  return `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]${bytes >= limit ? "!" : " "} ${Math.floor((bytes / limit) * 100)} %`;
}

function sourceOf(config: Config, id: string, env: NodeJS.ProcessEnv): UsageSource | undefined {
  const limit = config.spend.limits.get(id);
  if (limit) return limit.source;
  const entry = config.providers.find((candidate) => candidate.provider.id === id);
  // A provider in use without a limit: its figure is still worth showing, where it can be read.
  try {
    return entry?.provider.usage?.configure(env, entry.config);
  } catch {
    return undefined;
  }
}

async function providerRows(config: Config, env: NodeJS.ProcessEnv): Promise<ProviderRow[]> {
  const rows: ProviderRow[] = [];
  for (const provider of PROVIDERS) {
    const source = sourceOf(config, provider.id, env);
    if (!source) continue;
    const row: ProviderRow = { provider: provider.id, limit: config.spend.limits.get(provider.id)?.bytes, period: source.period };
    try {
      row.bytes = await ask(source.request(Date.now()), `${provider.label}'s usage API`, source.bytes);
    } catch (error) {
      row.error = failure(error);
    }
    rows.push(row);
  }
  return rows;
}

async function userRows(config: Config): Promise<UserRow[]> {
  const cloudflare = config.providers.find((entry) => entry.provider.id === "cloudflare");
  const source = cloudflare && sourceOf(config, "cloudflare", process.env);
  if (!source?.users) {
    throw new ServiceError(
      "not_configured",
      "--by-user reads Cloudflare's analytics: configure Cloudflare with CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_ANALYTICS_TOKEN",
    );
  }
  const users = source.users;
  const { byUser } = await ask(users.request(Date.now()), "Cloudflare's analytics", users.bytes);
  const quota = config.spend.user?.bytes;
  return [...byUser].map(([user, bytes]) => ({ user, bytes, ...(quota !== undefined && { quota }) }));
}

/** Revokes every username the analytics name for the users over the quota; returns how many per user. */
async function revokeOverQuota(config: Config, rows: UserRow[]): Promise<void> {
  const quota = config.spend.user?.bytes;
  if (quota === undefined) throw new ServiceError("not_configured", "--revoke-over-quota needs TURN_USER_MONTHLY_LIMIT");
  const over = rows.filter((row) => row.bytes >= quota);
  if (over.length === 0) return;
  const cloudflare = config.providers.find((entry) => entry.provider.id === "cloudflare")!;
  const key = cloudflare.config as CloudflareConfig;
  const analytics = configureCloudflareAnalytics(process.env);
  const request = prepareLiveUsernames(
    analytics,
    key.keyId,
    over.map((row) => row.user),
    Date.now(),
  );
  const usernames = await ask(request, "Cloudflare's analytics", processLiveUsernames);
  for (const row of over) {
    row.revoked = 0;
    for (const username of usernames.get(row.user) ?? []) {
      await ask(prepareRevokeCredential(key, username), "Cloudflare", processCloudflareRevoke);
      row.revoked += 1;
    }
  }
}

function providerText(rows: ProviderRow[]): string {
  if (rows.length === 0) return "No provider in use publishes usage figures (Cloudflare, Metered, Twilio do).\n";
  const width = Math.max(...rows.map((row) => row.provider.length));
  return rows
    .map((row) => {
      const name = row.provider.padEnd(width);
      if (row.error !== undefined) return `${name}  unavailable: ${printable(row.error)}\n`;
      const period = row.period === "month" ? "this month" : "this billing cycle";
      if (row.limit === undefined) return `${name}  ${formatBytes(row.bytes!)} ${period}, no limit set\n`;
      return `${name}  ${formatBytes(row.bytes!)} of ${formatBytes(row.limit)} ${period}  ${bar(row.bytes!, row.limit)}\n`;
    })
    .join("");
}

function userText(rows: UserRow[]): string {
  if (rows.length === 0) return "\nNo user has relayed through Cloudflare this month.\n";
  // A user id is a JWT's sub, chosen by whoever signs tokens: printed only as printable text.
  const width = Math.max(4, ...rows.map((row) => printable(row.user).length));
  const lines = rows.map((row) => {
    const quota = row.quota === undefined ? "" : `  ${bar(row.bytes, row.quota)}`;
    const revoked = row.revoked === undefined ? "" : `  revoked ${row.revoked} username(s)`;
    return `${printable(row.user).padEnd(width)}  ${formatBytes(row.bytes).padStart(10)}${quota}${revoked}\n`;
  });
  return `\n${"USER".padEnd(width)}  ${"THIS MONTH".padStart(10)}\n${lines.join("")}`;
}

/** The command: returns what to print and whether every figure could be read. */
export async function usageCommand(options: UsageOptions, print: (text: string) => void): Promise<boolean> {
  const config = parseConfig(process.env);
  const providers = await providerRows(config, process.env);
  const users = options.byUser || options.revokeOverQuota ? await userRows(config) : undefined;
  if (users && options.revokeOverQuota) await revokeOverQuota(config, users);
  if (options.json) print(`${JSON.stringify({ providers, ...(users && { users }) }, null, 2)}\n`);
  else print(providerText(providers) + (users ? userText(users) : ""));
  return providers.every((row) => row.error === undefined);
}
