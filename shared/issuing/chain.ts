import type { Config } from "../config.ts";
import { upstreamFor, type RequestContext } from "../context.ts";
import { ServiceError, type ErrorCode } from "../errors.ts";
import { compactIceServers, filterIceServers, type IceServer } from "../ice-urls.ts";
import type { Logger } from "../log.ts";
import type { ProviderId } from "../providers/index.ts";
import type { IssueRequest } from "../providers/provider.ts";
import { routedProviders } from "../routing/choose.ts";
import { checkSpend } from "../spend/guard.ts";
import { deadlineIn } from "../upstream/upstream.ts";

export interface Issued {
  iceServers: IceServer[];
  provider: ProviderId;
  /** Seconds the credential lasts, as the provider granted it: at most what was asked. */
  ttl: number;
}

// When every provider fails, the answer is the failure that tells the caller most:
// a refused key needs the operator, a Retry-After tells the client when to come back.
const MOST_TELLING: ErrorCode[] = [
  "upstream_unauthorized",
  "upstream_rate_limited",
  "upstream_unavailable",
  "upstream_invalid_response",
  "upstream_error",
  "upstream_timeout",
  "upstream_unreachable",
  "spend_limit_reached",
];
const rank = (error: ServiceError) => {
  const index = MOST_TELLING.indexOf(error.code);
  return index < 0 ? MOST_TELLING.length : index;
};
// Between two as telling, the sooner Retry-After: the caller may come back when the first provider can serve.
const waitOf = (error: ServiceError) => Number(error.headers["retry-after"] ?? error.headers["Retry-After"] ?? Infinity);
const moreTelling = (a: ServiceError, b: ServiceError) => rank(a) < rank(b) || (rank(a) === rank(b) && waitOf(a) < waitOf(b));

/** Drops what browsers cannot use, then trims the URL set if asked to. */
function shape(servers: IceServer[], config: Config, provider: { id: string; label: string }, log: Logger): IceServer[] {
  const { label } = provider;
  const filtered = filterIceServers(servers, { keepPort53: config.keepPort53 });
  if (filtered.malformed.length > 0) {
    log.warn(`${label} sent ${filtered.malformed.length} ICE URL(s) no browser accepts; they were dropped`, {
      event: "provider_malformed_urls",
      provider: provider.id,
    });
  }
  if (filtered.servers.length === 0) {
    throw new ServiceError("upstream_invalid_response", `${label} answered with no ICE URL a browser can use`);
  }
  return config.urlSet === "compact" ? compactIceServers(filtered.servers) : filtered.servers;
}

/**
 * Asks each configured provider in turn, inside one overall budget, and returns
 * the first that succeeds. Throws the most telling failure when none does.
 */
export async function issueFromChain(context: RequestContext, request: Omit<IssueRequest, "hmac">): Promise<Issued> {
  const { config, log, trace } = context;
  const deadline = deadlineIn(config.totalTimeoutMs);
  const failures: ServiceError[] = [];
  for (const { provider, config: providerConfig } of routedProviders(context)) {
    if (deadline.remainingMs() <= 0) break;
    const upstream = upstreamFor(context, provider.label, deadline);
    const tried: { provider: string; error?: string } = { provider: provider.id };
    trace?.tried.push(tried);
    const spend = await checkSpend(context, provider, deadline);
    if (spend.refusal) {
      tried.error = spend.refusal.code;
      failures.push(spend.refusal);
      continue;
    }
    try {
      // Never ask a provider for more than it grants: it would refuse, or quietly grant less.
      const asked = Math.min(request.ttl, provider.maxTtl);
      const grant = await provider.issue(providerConfig, { ...request, ttl: asked, hmac: context.hmac }, upstream);
      const ttl = Math.min(asked, grant.ttl);
      const iceServers = shape(grant.iceServers, config, provider, log);
      if (trace && spend.usage) trace.usage = spend.usage;
      return { iceServers, provider: provider.id, ttl };
    } catch (error) {
      if (!(error instanceof ServiceError)) {
        // Only the kind: the message could quote an upstream.
        tried.error = "upstream_error";
        log.error(`${provider.label} failed unexpectedly (${(error as Error)?.name ?? typeof error})`, {
          event: "provider_failed",
          provider: provider.id,
          error: tried.error,
        });
        failures.push(new ServiceError("upstream_error", `${provider.label} failed unexpectedly`));
        continue;
      }
      tried.error = error.code;
      const event = { event: "provider_failed", provider: provider.id, error: error.code };
      if (error.code === "upstream_unauthorized") {
        log.error(`OPERATOR: ${provider.label} refused our credentials (HTTP 401/403): check ${provider.enableHint}`, event);
      } else {
        log.warn(`${provider.label} failed: ${error.code}`, event);
      }
      failures.push(error);
    }
  }
  if (failures.length === 0) throw new ServiceError("upstream_timeout", "no time was left to ask a provider");
  throw failures.reduce((best, next) => (moreTelling(next, best) ? next : best));
}
