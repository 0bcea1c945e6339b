import { handle } from "../shared/handle.ts";
import { describeContract } from "./contract/vitest-suite.ts";

describeContract("core handle()", async (env) => ({
  send: (path, init) => handle(new Request(`http://localhost${path}`, init), env),
}));
