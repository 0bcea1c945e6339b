import { afterAll, beforeAll, beforeEach, describe, it } from "vitest";
import { chainCases, type ChainFakes } from "../contract/chain-cases.ts";
import { closeChainFakes, resetChainFakes, startChainFakes } from "../contract/chain-fakes.ts";

export interface RunningHost {
  origin: string;
  /** Everything the host printed so far. */
  output(): string;
  close(): Promise<void>;
}

// Long enough for a line the host printed while answering to come through its pipe.
const LOG_SETTLE_MS = 200;
// wrangler dev prints a Worker's console.warn and console.error as "▲ [WARNING] …" and
// "✘ [ERROR] …", in colour: what is left is the line as the Worker logged it.
// biome-ignore lint/suspicious/noControlCharactersInRegex: colour codes start with ESC.
const COLOUR = /\u001b\[[0-9;]*m/g;
const WRANGLER_LEVEL = /^(?:▲ \[WARNING\]|✘ \[ERROR\]) /;

const logLines = (output: string) => output.split("\n").map((line) => line.replace(COLOUR, "").trim().replace(WRANGLER_LEVEL, ""));

/**
 * The provider chain's fault matrix through a host's real entry point in its own runtime. The
 * cases differ in their variables, which a host reads at start-up, so the host is started again
 * whenever the next case's variables differ from the running one's.
 */
export function describeHostChain(name: string, start: (env: Record<string, string>) => Promise<RunningHost>): void {
  describe(`provider chain through ${name}`, () => {
    const fakes = {} as ChainFakes;
    let running: { key: string; host: RunningHost } | undefined;

    fakes.host = async (env) => {
      const key = JSON.stringify(env);
      if (running?.key !== key) {
        await running?.host.close();
        running = undefined;
        running = { key, host: await start(env) };
      }
      const { host } = running;
      return async (path) => {
        const before = host.output().length;
        const answer = await fetch(`${host.origin}${path}`);
        const body = await answer.arrayBuffer();
        await new Promise((resolve) => setTimeout(resolve, LOG_SETTLE_MS));
        const logs = logLines(host.output().slice(before));
        return { response: new Response(body, { status: answer.status, headers: answer.headers }), logs };
      };
    };

    beforeAll(async () => {
      Object.assign(fakes, await startChainFakes());
    });
    afterAll(async () => {
      await running?.host.close();
      await closeChainFakes(fakes);
    });
    beforeEach(() => resetChainFakes(fakes));

    // A case that starts the host again waits for it on top of its own budget.
    for (const testCase of chainCases) it(testCase.name, () => testCase.run(fakes), 120_000);
  });
}
