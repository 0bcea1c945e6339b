import { afterAll, beforeAll, beforeEach, describe, it } from "vitest";
import { startFakeCloudflare, type FakeCloudflare } from "../fake-cloudflare.ts";
import { CONTRACT_KEY_ID, CONTRACT_TOKEN, contractCases, contractEnv, type ContractCase } from "./cases.ts";

export interface EntryPoint {
  send(path: string, init?: RequestInit): Promise<Response>;
  close?(): Promise<void>;
}

/** Runs every contract case against one entry point, started with the contract environment. */
export interface ContractOptions {
  /** Cases this runner cannot judge, and why; they run on the other runners. */
  skip?: { when: (testCase: ContractCase) => boolean; why: string };
  timeoutMs?: number;
}

export function describeContract(
  name: string,
  start: (env: Record<string, string>) => Promise<EntryPoint>,
  options: ContractOptions = {},
): void {
  const timeoutMs = options.timeoutMs ?? 15_000;
  describe(`contract: ${name}`, () => {
    let fake: FakeCloudflare;
    let entry: EntryPoint;

    beforeAll(async () => {
      fake = await startFakeCloudflare({ keyId: CONTRACT_KEY_ID, apiToken: CONTRACT_TOKEN });
      entry = await start(contractEnv(fake));
    }, 120_000);

    afterAll(async () => {
      await entry?.close?.();
      await fake?.close();
    });

    beforeEach(() => fake.reset());

    for (const testCase of contractCases) {
      if (options.skip?.when(testCase)) {
        it.skip(`${testCase.name} (${options.skip.why})`, () => {});
        continue;
      }
      it(testCase.name, () => testCase.run({ send: (path, init) => entry.send(path, init), fake }), testCase.timeoutMs ?? timeoutMs);
    }
  });
}
