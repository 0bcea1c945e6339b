import { cloudflare } from "./cloudflare/turn.ts";
import { metered } from "./metered.ts";
import type { Provider } from "./provider.ts";
import { sharedSecret } from "./shared-secret.ts";
import { twilio } from "./twilio.ts";
import { xirsys } from "./xirsys.ts";

/**
 * Every provider, in the order used when TURN_PROVIDERS is unset. This is the one place a
 * provider is registered: its id, the ids revoke tokens accept, TURN_PROVIDERS and its
 * messages all follow from this list.
 */
const REGISTERED = [cloudflare, metered, sharedSecret, twilio, xirsys] as const;

export type ProviderId = (typeof REGISTERED)[number]["id"];

/** A registered provider, whatever its configuration type. */
export type AnyProvider = Provider<unknown, ProviderId>;

/** A provider with the configuration its variables gave. */
export interface ConfiguredProvider {
  readonly provider: AnyProvider;
  readonly config: unknown;
}

// biome-ignore lint/suspicious/noExplicitAny: each provider has a configuration type of its own, which the list does not keep.
export const PROVIDERS: readonly AnyProvider[] = REGISTERED as readonly Provider<any, ProviderId>[];

export const PROVIDER_IDS: readonly ProviderId[] = PROVIDERS.map((provider) => provider.id);

/**
 * What an answer's `provider` names: a registered provider, `local-relay` for the coturn that
 * `npm start` runs itself when none is configured (server/local-relay.ts; its credentials are
 * shared-secret ones, so it is a label, not a provider TURN_PROVIDERS or revoke tokens accept),
 * or `none` for STUN-only.
 */
export const LOCAL_RELAY = "local-relay";
export type ServedBy = ProviderId | typeof LOCAL_RELAY | "none";
