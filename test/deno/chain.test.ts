/** The provider chain's fault matrix under Deno, against the same fakes as under Node. */
import { CHAIN_SECRETS, chainCases, type ChainFakes } from "../contract/chain-cases.ts";
import { startFakeCloudflare } from "../fake-cloudflare.ts";
import { startFakeMetered } from "../fake-metered.ts";

Deno.test("provider chain under Deno", async (t) => {
  const fakes: ChainFakes = {
    cloudflare: await startFakeCloudflare({ keyId: CHAIN_SECRETS.cloudflareKeyId, apiToken: CHAIN_SECRETS.cloudflareToken }),
    metered: await startFakeMetered({ secretKey: CHAIN_SECRETS.meteredSecretKey }),
  };
  try {
    for (const testCase of chainCases) {
      fakes.cloudflare.reset();
      fakes.metered.reset();
      await t.step(testCase.name, () => testCase.run(fakes));
    }
  } finally {
    await fakes.cloudflare.close();
    await fakes.metered.close();
  }
});
