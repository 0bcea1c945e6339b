import { afterAll, beforeAll, beforeEach, describe, it } from "vitest";
import { chainCases, type ChainFakes } from "./contract/chain-cases.ts";
import { closeChainFakes, resetChainFakes, startChainFakes } from "./contract/chain-fakes.ts";
import { nodeFetch } from "../node/http-fetch.ts";

describe.each([
  ["the global fetch", undefined],
  ["the Node adapters' node:http client", nodeFetch],
])("provider chain under Node, through %s", (_, fetch) => {
  const fakes = { fetch } as ChainFakes;

  beforeAll(async () => {
    Object.assign(fakes, await startChainFakes());
  });
  afterAll(() => closeChainFakes(fakes));
  beforeEach(() => resetChainFakes(fakes));

  for (const testCase of chainCases) it(testCase.name, () => testCase.run(fakes));
});
