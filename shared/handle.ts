import { admit, allowed, checkOrigin, preflight, sharedStoreFor, type AccessState } from "./access/admit.ts";
import type { HandleOptions } from "./handle-options.ts";
import type { RequestContext } from "./context.ts";
import { addressKey } from "./rate-limit/client-key.ts";
import type { ConfigLoader, Env } from "./config.ts";
import { ServiceError, type ErrorCode } from "./errors.ts";
import type { Hmac } from "./hmac.ts";
import { issue } from "./issuing/issue.ts";
import { formatLogger, type LogFormat, logFormatOf, newTrace, type Logger, type RequestLogger, type RequestTrace } from "./log.ts";
import type { OperatorReports } from "./operator-reports.ts";
import { checkRequestTarget } from "./access/request-target.ts";
import { errorResponse } from "./http/respond.ts";
import { revoke } from "./revocation/revoke.ts";
import { placeOf } from "./routing/location.ts";
import type { UsageBook } from "./spend/usage-book.ts";
import { turnRest } from "./turn-rest/route.ts";
import type { Fetch } from "./upstream/upstream.ts";

export type { Logger } from "./log.ts";

export const ICE_SERVERS_PATH = "/api/ice-servers";
export const REVOKE_PATH = "/api/ice-servers/revoke";
export const TURN_REST_PATH = "/api/ice-servers/turn-rest";

export type { HandleOptions };

/** What a service instance keeps between requests: created by createService (shared/service.ts), once per instance. */
export interface ServiceState {
  readonly loadConfig: ConfigLoader;
  readonly access: AccessState;
  readonly hmac: Hmac;
  readonly usage: UsageBook;
  readonly reports: OperatorReports;
}

type Run = (context: RequestContext) => Promise<Response>;

const ISSUE_ROUTE = { name: "issue", methods: ["GET", "POST"], run: issue } as const;
const REVOKE_ROUTE = { name: "revoke", methods: ["POST"], run: revoke } as const;
// For servers, not browsers: no CORS, and the route admits its caller by its own keys.
const TURN_REST_ROUTE = { name: "turn-rest", serve: turnRest } as const;

type Route = { name: string; methods: readonly string[]; run: Run } | typeof TURN_REST_ROUTE;

function routeFor(path: string, basePath: string): Route | undefined {
  if (path === basePath) return ISSUE_ROUTE;
  if (path === `${basePath}/revoke`) return REVOKE_ROUTE;
  if (path === `${basePath}/turn-rest`) return TURN_REST_ROUTE;
  return undefined;
}

const defaultFetch: Fetch = (url, init) => fetch(url, init);

/**
 * LOG_FORMAT from the configuration the request will use (cached: no variable is read), or, when
 * that configuration is broken, read leniently so that the error about it is still logged.
 */
function logFormatFor(state: ServiceState, env: Env): LogFormat {
  try {
    return state.loadConfig(env).logFormat;
  } catch {
    return logFormatOf(env);
  }
}

/**
 * One request, in order: request-target, route, configuration, origin, method, caller and
 * allowance, then the route itself. Fills in the headers (CORS, rate limit)
 * that every answer to this request carries, errors included.
 */
async function respond(
  state: ServiceState,
  request: Request,
  env: Env,
  options: HandleOptions,
  headers: Record<string, string>,
  log: Logger,
  trace: RequestTrace,
): Promise<Response> {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    // Deno builds request.url from the Host header, and throws on reading one it cannot parse.
    throw new ServiceError("invalid_request", "the Host header is not a host name");
  }
  checkRequestTarget(request, url, options.urlFromRequestTarget);
  const path = url.pathname.replace(/\/+$/, "");
  const basePath = options.basePath ?? ICE_SERVERS_PATH;
  const route = routeFor(path, basePath);
  if (!route) throw new ServiceError("not_found", `nothing is served here: ask for ${basePath}`);
  trace.route = route.name;
  const config = state.loadConfig(env);
  const fetch = options.fetch ?? defaultFetch;
  const location = placeOf(options.location);
  trace.country = location?.country;
  const access = { ...options, fetch, log, state: state.access };
  // Where usage figures are shared between instances: the rate limit's store.
  const store = () => sharedStoreFor(config, access);
  const { hmac, usage, reports } = state;
  const clock = options.now ?? Date.now;
  // What every route gets, whoever the caller.
  const common = {
    request,
    url,
    config,
    fetch,
    log,
    trace,
    random: options.random,
    local: options.local ?? false,
    location,
    store,
    waitUntil: options.waitUntil,
    hmac,
    usage,
    reports,
  };
  if ("serve" in route) return route.serve({ ...common, access, headers, clock });
  Object.assign(headers, checkOrigin(request, config, options));
  if (request.method === "OPTIONS") return preflight(route.methods);
  if (!route.methods.includes(request.method)) {
    throw new ServiceError("method_not_allowed", `use ${route.methods.join(" or ")}`, { allow: allowed(route.methods) });
  }
  const { caller, headers: allowance } = await admit(request, config, access);
  trace.caller = caller.user !== undefined ? "user" : config.auth.mode === "bearer" ? "bearer" : "anonymous";
  Object.assign(headers, allowance);
  return route.run({ ...common, caller, now: clock(), localRelay: options.local ? options.localRelay : undefined });
}

// Failures that need the operator rather than the caller: each is also an operator event.
// (A closed rate limiter's 503 is not: its store's failure is logged where it happens.)
const OPERATOR_ERRORS: Partial<Record<ErrorCode, string>> = {
  invalid_config: "config_error",
  not_configured: "config_error",
  auth_unavailable: "auth_unavailable",
};

// Such a failure repeats on every request until it is fixed: once a minute per message tells
// the operator as much, and a busy endpoint does not flood its log.
const REPEAT_EVERY_MS = 60_000;

/**
 * The whole service behind one web-standard call, with the state of the instance that answers
 * (service.handle in shared/service.ts, which every platform adapter calls and nothing else);
 * it never throws, every failure is a JSON answer.
 */
export async function handle(state: ServiceState, request: Request, env: Env, options: HandleOptions = {}): Promise<Response> {
  const started = performance.now();
  const log: RequestLogger = formatLogger(options.log ?? console, logFormatFor(state, env), options.now);
  const trace = newTrace();
  // The rate limit's key, never more of the address: see shared/rate-limit/client-key.ts.
  if (options.clientIp && log.format === "json") trace.client = addressKey(options.clientIp);
  // The answer depends on the Origin, so caches must key on it, whatever the outcome.
  const headers: Record<string, string> = { vary: "Origin" };
  let response: Response;
  let code: ErrorCode | undefined;
  try {
    response = await respond(state, request, env, options, headers, log, trace);
  } catch (error) {
    if (!(error instanceof ServiceError)) {
      // Only the error's kind is logged: its message could quote a request or an upstream.
      log.error(`unexpected failure handling ${request.method}: ${(error as Error)?.name ?? typeof error}`, {
        event: "unexpected_failure",
      });
      code = "internal_error";
    } else {
      code = error.code;
      const event = OPERATOR_ERRORS[code];
      // The message names the variable or the service, never a value.
      const due = event && state.reports.due(`${event}:${error.message}`, REPEAT_EVERY_MS, Date.now());
      if (due) log.error(`${code}: ${error.message}`, { event, error: code });
    }
    response = errorResponse(error);
  }
  for (const [name, value] of Object.entries(headers)) {
    if (!response.headers.has(name)) response.headers.set(name, value);
  }
  // Text keeps to operator events: the request's line is built only where it is written.
  if (log.format !== "json") return response;
  log.request({
    route: trace.route ?? "none",
    method: request.method,
    status: response.status,
    ...(code && { error: code }),
    ...(trace.provider !== undefined && { provider: trace.provider }),
    ...(trace.usage !== undefined && { usage: trace.usage }),
    tried: trace.tried,
    attempts: trace.attempts,
    durationMs: Math.round((performance.now() - started) * 10) / 10,
    caller: trace.caller,
    ...(trace.client !== undefined && { client: trace.client }),
    ...(trace.country !== undefined && { country: trace.country }),
    ...(trace.rule !== undefined && { rule: trace.rule }),
  });
  return response;
}
