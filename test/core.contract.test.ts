import { createService } from "../shared/service.ts";
import { describeContract } from "./contract/vitest-suite.ts";

// This file's own instance of the service.
const { handle } = createService();

describeContract("core handle()", async (env) => ({
  send: (path, init) => handle(new Request(`http://localhost${path}`, init), env),
}));
