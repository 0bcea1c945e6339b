/**
 * One instance of the service: the state a warm instance keeps between requests (the loaded
 * configuration, the memory rate-limit store and the callers over their allowance, the Upstash
 * stores, the JWKS key sets, the HMAC (WebCrypto's keeps its imported keys), the spend guard's usage
 * figures, the operator events logged), owned by an object rather than by modules. Each adapter
 * creates one per process (the package one per createHandler); a test creates its own, so nothing
 * leaks between them.
 */
import { accessState } from "./access/admit.ts";
import { configLoader, type Env } from "./config.ts";
import { handle, type HandleOptions, type ServiceState } from "./handle.ts";
import { type Hmac, webCryptoHmac } from "./hmac.ts";
import { operatorReports } from "./operator-reports.ts";
import { usageBook } from "./spend/usage-book.ts";

export interface Service {
  /** The whole service behind one web-standard call; never throws, every failure is a JSON answer. */
  readonly handle: (request: Request, env: Env, options?: HandleOptions) => Promise<Response>;
}

export interface ServiceOptions {
  /** node:crypto's on the Node hosts (node/hmac.ts); WebCrypto's by default. */
  hmac?: Hmac;
}

export function createService(options: ServiceOptions = {}): Service {
  const state: ServiceState = {
    loadConfig: configLoader(),
    access: accessState(),
    hmac: options.hmac ?? webCryptoHmac(),
    usage: usageBook(),
    reports: operatorReports(),
  };
  return { handle: (request, env, options) => handle(state, request, env, options) };
}
