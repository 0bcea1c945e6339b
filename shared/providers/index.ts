import { cloudflare } from "./cloudflare.ts";
import { metered } from "./metered.ts";
import type { Provider } from "./provider.ts";
import { sharedSecret } from "./shared-secret.ts";

/** Every provider, in the order used when TURN_PROVIDERS is unset. */
export const PROVIDERS: readonly Provider<unknown>[] = [cloudflare, metered, sharedSecret] as readonly Provider<any>[];
