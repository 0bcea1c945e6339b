/** The fakes the chain's fault matrix runs against, started and stopped together (Node and Deno alike). */
import { startFakeCloudflare } from "../fake-cloudflare.ts";
import { startFakeMetered } from "../fake-metered.ts";
import { startFakeTwilio } from "../fake-twilio.ts";
import { startFakeXirsys } from "../fake-xirsys.ts";
import { CHAIN_SECRETS, type ChainFakes } from "./chain-cases.ts";

type Upstreams = Omit<ChainFakes, "fetch">;

export async function startChainFakes(): Promise<Upstreams> {
  return {
    cloudflare: await startFakeCloudflare({ keyId: CHAIN_SECRETS.cloudflareKeyId, apiToken: CHAIN_SECRETS.cloudflareToken }),
    metered: await startFakeMetered({ secretKey: CHAIN_SECRETS.meteredSecretKey }),
    twilio: await startFakeTwilio({ accountSid: CHAIN_SECRETS.twilioAccountSid, authToken: CHAIN_SECRETS.twilioAuthToken }),
    xirsys: await startFakeXirsys({
      ident: CHAIN_SECRETS.xirsysIdent,
      secret: CHAIN_SECRETS.xirsysSecret,
      channel: CHAIN_SECRETS.xirsysChannel,
    }),
  };
}

export function resetChainFakes(fakes: Upstreams): void {
  for (const fake of [fakes.cloudflare, fakes.metered, fakes.twilio, fakes.xirsys]) fake.reset();
}

export async function closeChainFakes(fakes: Partial<Upstreams>): Promise<void> {
  for (const fake of [fakes.cloudflare, fakes.metered, fakes.twilio, fakes.xirsys]) await fake?.close();
}
