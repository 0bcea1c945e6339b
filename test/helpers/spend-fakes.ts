/** The fakes the spend guard's tests run against (a TURN provider each, with its usage API), and their variables. */
import { startFakeCloudflare, type FakeCloudflare } from "../fake-cloudflare.ts";
import { startFakeCloudflareGraphql, type FakeCloudflareGraphql } from "../fake-cloudflare-graphql.ts";
import { startFakeMetered, type FakeMetered } from "../fake-metered.ts";
import { startFakeTwilio, type FakeTwilio } from "../fake-twilio.ts";
import { secret } from "./secrets.ts";

export const SPEND = {
  keyId: "spendkey0123456789abcdef",
  keyToken: secret("cf-spend-key-token-Hy6Tg5Rf4Ed3"),
  accountId: "0123456789abcdef0123456789abcdef",
  analyticsToken: secret("cf-analytics-token-Zx8Cv7Bn6Mq5"),
  meteredKey: secret("metered-spend-secret-Jk4Lh3Gf2Ds1"),
  twilioSid: `AC${"5a".repeat(16)}`,
  twilioToken: secret("twilio-spend-token-Po9Iu8Yt7Re6"),
};

export interface SpendFakes {
  cloudflare: FakeCloudflare;
  graphql: FakeCloudflareGraphql;
  metered: FakeMetered;
  twilio: FakeTwilio;
}

export async function startSpendFakes(): Promise<SpendFakes> {
  return {
    cloudflare: await startFakeCloudflare({ keyId: SPEND.keyId, apiToken: SPEND.keyToken }),
    graphql: await startFakeCloudflareGraphql({ accountId: SPEND.accountId, token: SPEND.analyticsToken }),
    metered: await startFakeMetered({ secretKey: SPEND.meteredKey }),
    twilio: await startFakeTwilio({ accountSid: SPEND.twilioSid, authToken: SPEND.twilioToken }),
  };
}

export async function closeSpendFakes(fakes: Partial<SpendFakes>): Promise<void> {
  for (const fake of [fakes.cloudflare, fakes.graphql, fakes.metered, fakes.twilio]) await fake?.close();
}

/** Every provider with a usage API configured against the fakes, a limit on each, JSON logs and no rate limit. */
export function spendEnv(fakes: SpendFakes, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CLOUDFLARE_TURN_KEY_ID: SPEND.keyId,
    CLOUDFLARE_TURN_KEY_API_TOKEN: SPEND.keyToken,
    CLOUDFLARE_TURN_API_BASE: fakes.cloudflare.apiBase,
    CLOUDFLARE_ACCOUNT_ID: SPEND.accountId,
    CLOUDFLARE_ANALYTICS_TOKEN: SPEND.analyticsToken,
    CLOUDFLARE_GRAPHQL_URL: fakes.graphql.url,
    METERED_APP: fakes.metered.origin,
    METERED_SECRET_KEY: SPEND.meteredKey,
    TWILIO_ACCOUNT_SID: SPEND.twilioSid,
    TWILIO_AUTH_TOKEN: SPEND.twilioToken,
    TWILIO_API_BASE: fakes.twilio.apiBase,
    TURN_PROVIDERS: "cloudflare,metered,twilio",
    TURN_MONTHLY_LIMITS: "cloudflare:1000GB,metered:40GB,twilio:50GB",
    RATE_LIMIT: "off",
    LOG_FORMAT: "json",
    ...extra,
  };
}
