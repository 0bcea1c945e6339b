/**
 * Twilio's usage: GET {base}/2010-04-01/Accounts/{AccountSid}/Usage/Records/ThisMonth.json
 * ?Category=turnmegabytes with HTTP Basic authentication answers {"usage_records": [{category,
 * usage, usage_unit, start_date, end_date, …}], page, page_size, …}, `usage` a string
 * (https://www.twilio.com/docs/usage/api/usage-record). ThisMonth is the calendar month in GMT.
 * What the docs leave open: the unit of turnmegabytes' usage_unit. We read "megabytes" (or none)
 * as 10^6 bytes, "gigabytes" and "kilobytes" and "bytes" by their names, and refuse any other.
 */
import * as v from "valibot";
import type { Env } from "../env.ts";
import { ServiceError } from "../errors.ts";
import { basicAuthorization } from "../upstream/basic-auth.ts";
import type { UsageSource } from "../providers/provider.ts";
import { parseReply } from "../upstream/upstream.ts";

const LABEL = "Twilio's usage API";
export const TWILIO_TURN_CATEGORY = "turnmegabytes";
const UNIT_BYTES: Record<string, number> = { megabytes: 1e6, mb: 1e6, gigabytes: 1e9, gb: 1e9, kilobytes: 1e3, kb: 1e3, bytes: 1 };

const Amount = v.pipe(
  v.union([v.pipe(v.string(), v.regex(/^\d{1,15}(?:\.\d{1,9})?$/)), v.pipe(v.number(), v.finite(), v.minValue(0))]),
  v.transform(Number),
);
const RecordsReply = v.object({
  usage_records: v.array(v.object({ category: v.string(), usage: Amount, usage_unit: v.nullish(v.string()) })),
});

/** What the reader needs of Twilio's configuration (shared/providers/twilio.ts declares the reader). */
interface TwilioUsageConfig {
  readonly apiBase: string;
  readonly accountSid: string;
  readonly username: string;
  readonly password: string;
}

export const twilioUsage = {
  variables: [],
  configure(_env: Env, config: TwilioUsageConfig): UsageSource {
    return {
      scope: config.accountSid,
      period: "month",
      request: () => ({
        url: `${config.apiBase}/2010-04-01/Accounts/${config.accountSid}/Usage/Records/ThisMonth.json?Category=${TWILIO_TURN_CATEGORY}`,
        method: "GET",
        headers: { authorization: basicAuthorization(config.username, config.password), accept: "application/json" },
      }),
      bytes(reply) {
        let bytes = 0;
        for (const record of parseReply(reply, RecordsReply, LABEL).usage_records) {
          if (record.category !== TWILIO_TURN_CATEGORY) continue;
          const perUnit = UNIT_BYTES[(record.usage_unit ?? "megabytes").toLowerCase()];
          if (perUnit === undefined) throw new ServiceError("upstream_invalid_response", `${LABEL} answered in a unit it did not document`);
          bytes += record.usage * perUnit;
        }
        return Math.round(bytes);
      },
    };
  },
};
