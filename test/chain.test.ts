import { afterAll, beforeAll, beforeEach, describe, it } from "vitest";
import { CHAIN_SECRETS, chainCases, type ChainFakes } from "./contract/chain-cases.ts";
import { startFakeCloudflare } from "./fake-cloudflare.ts";
import { startFakeMetered } from "./fake-metered.ts";
import { nodeFetch } from "../node/http-fetch.ts";

describe.each([
  ["the global fetch", undefined],
  ["the Node adapters' node:http client", nodeFetch],
])("provider chain under Node, through %s", (_, fetch) => {
  const fakes = { fetch } as ChainFakes;

  beforeAll(async () => {
    fakes.cloudflare = await startFakeCloudflare({ keyId: CHAIN_SECRETS.cloudflareKeyId, apiToken: CHAIN_SECRETS.cloudflareToken });
    fakes.metered = await startFakeMetered({ secretKey: CHAIN_SECRETS.meteredSecretKey });
  });
  afterAll(async () => {
    await fakes.cloudflare?.close();
    await fakes.metered?.close();
  });
  beforeEach(() => {
    fakes.cloudflare.reset();
    fakes.metered.reset();
  });

  for (const testCase of chainCases) it(testCase.name, () => testCase.run(fakes));
});
