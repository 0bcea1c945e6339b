/** The provider chain's fault matrix under Deno, against the same fakes as under Node. */
import { chainCases, type ChainFakes } from "../contract/chain-cases.ts";
import { closeChainFakes, resetChainFakes, startChainFakes } from "../contract/chain-fakes.ts";

Deno.test("provider chain under Deno", async (t) => {
  const fakes: ChainFakes = await startChainFakes();
  try {
    for (const testCase of chainCases) {
      resetChainFakes(fakes);
      await t.step(testCase.name, () => testCase.run(fakes));
    }
  } finally {
    await closeChainFakes(fakes);
  }
});
