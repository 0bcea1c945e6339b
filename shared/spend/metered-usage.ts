/**
 * Metered's usage: GET https://<app>.metered.live/api/v1/turn/current_usage?secretKey=… answers
 * {"quotaInGB": 150, "usageInGB": 45.12, "overageInGB": 0} for the current billing cycle, or 400
 * when the app has no TURN plan (https://www.metered.ca/docs/turn-rest-api/get-current-usage).
 * What the docs leave open: whether a GB is 10^9 or 2^30 bytes. We assume 10^9, as limits are
 * written; were it 2^30, the figure read is 7 % low, so set the limit that much lower to be sure.
 */
import * as v from "valibot";
import type { Env } from "../env.ts";
import { ServiceError } from "../errors.ts";
import type { UsageSource } from "../providers/provider.ts";
import { parseReply } from "../upstream/upstream.ts";

const UsageReply = v.object({ usageInGB: v.pipe(v.number(), v.finite(), v.minValue(0)) });

/** What the reader needs of Metered's configuration (shared/providers/metered.ts declares the reader). */
interface MeteredUsageConfig {
  readonly origin: string;
  readonly secretKey?: string;
}

export const meteredUsage = {
  variables: [],
  configure(_env: Env, config: MeteredUsageConfig): UsageSource {
    const { secretKey } = config;
    if (!secretKey) {
      throw new ServiceError("not_configured", "TURN_MONTHLY_LIMITS names metered, whose usage is read with METERED_SECRET_KEY: set it");
    }
    return {
      scope: config.origin,
      period: "cycle",
      request: () => ({
        url: `${config.origin}/api/v1/turn/current_usage?secretKey=${encodeURIComponent(secretKey)}`,
        method: "GET",
        headers: { accept: "application/json" },
      }),
      bytes: (reply) => Math.round(parseReply(reply, UsageReply, "Metered's usage API").usageInGB * 1e9),
    };
  },
};
