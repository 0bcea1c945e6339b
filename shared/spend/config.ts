import * as v from "valibot";
import type { AuthConfig } from "../access/auth.ts";
import { integerBetween, readList, readVar, type Env } from "../env.ts";
import { ServiceError } from "../errors.ts";
import type { AnyProvider } from "../providers/index.ts";
import type { UsageSource } from "../providers/provider.ts";
import { requireAmount } from "./amount.ts";

export interface ProviderLimit {
  readonly bytes: number;
  readonly source: UsageSource;
}

/** TURN_MONTHLY_LIMITS and its companions: what each provider may relay a month, and each user. */
export interface SpendConfig {
  /** By provider id; a provider without an entry is never skipped for its spend. */
  readonly limits: ReadonlyMap<string, ProviderLimit>;
  /** A figure is read at most this often per provider (and per instance, or per fleet with a shared store). */
  readonly refreshMs: number;
  /** TURN_USER_MONTHLY_LIMIT: bytes per verified user a month, counted by Cloudflare's customIdentifier. */
  readonly user?: { readonly bytes: number; readonly source: UsageSource };
}

const Refresh = integerBetween("TURN_USAGE_REFRESH_S", 10, 86_400);

// Said at configuration, so that no one believes a limit is kept that cannot be.
const NO_USAGE_API: Record<string, string> = {
  xirsys: "Xirsys documents no usage API with stated units",
  "shared-secret": "a self-hosted TURN server (coturn) has no HTTP usage API",
};

function sourceFor(env: Env, entry: { provider: AnyProvider; config: unknown }): UsageSource {
  const { provider } = entry;
  if (!provider.usage) {
    const why = NO_USAGE_API[provider.id] ?? `${provider.label} publishes no usage figure`;
    throw new ServiceError("invalid_config", `TURN_MONTHLY_LIMITS names ${provider.id}, but ${why}: remove it from the list`);
  }
  return provider.usage.configure(env, entry.config);
}

export function configureSpend(env: Env, providers: readonly { provider: AnyProvider; config: unknown }[], auth: AuthConfig): SpendConfig {
  const refresh = v.safeParse(Refresh, readVar(env, "TURN_USAGE_REFRESH_S") ?? "60");
  if (!refresh.success) throw new ServiceError("invalid_config", refresh.issues[0].message);
  const limits = new Map<string, ProviderLimit>();
  for (const item of readList(env, "TURN_MONTHLY_LIMITS")) {
    const colon = item.indexOf(":");
    if (colon < 0) throw new ServiceError("invalid_config", "TURN_MONTHLY_LIMITS must read like cloudflare:1000GB,twilio:50GB");
    const id = item.slice(0, colon).trim();
    const entry = providers.find((candidate) => candidate.provider.id === id);
    if (!entry) {
      throw new ServiceError(
        "invalid_config",
        `TURN_MONTHLY_LIMITS names ${id || "a provider"}, which is not among the providers in use (TURN_PROVIDERS, or those configured)`,
      );
    }
    if (limits.has(id)) throw new ServiceError("invalid_config", `TURN_MONTHLY_LIMITS lists ${id} twice`);
    const bytes = requireAmount("TURN_MONTHLY_LIMITS", item.slice(colon + 1));
    limits.set(id, { bytes, source: sourceFor(env, entry) });
  }
  const userLimit = readVar(env, "TURN_USER_MONTHLY_LIMIT");
  if (userLimit === undefined) return { limits, refreshMs: refresh.output * 1000 };
  const bytes = requireAmount("TURN_USER_MONTHLY_LIMIT", userLimit);
  if (auth.mode !== "jwt") {
    throw new ServiceError("invalid_config", "TURN_USER_MONTHLY_LIMIT counts verified users (a JWT's sub): it needs AUTH_MODE=jwt");
  }
  const cloudflare = providers.find((candidate) => candidate.provider.id === "cloudflare");
  const source = cloudflare && (limits.get("cloudflare")?.source ?? sourceFor(env, cloudflare));
  if (!source?.users) {
    throw new ServiceError(
      "invalid_config",
      "TURN_USER_MONTHLY_LIMIT is counted by Cloudflare's analytics: it needs Cloudflare configured",
    );
  }
  return { limits, refreshMs: refresh.output * 1000, user: { bytes, source } };
}
