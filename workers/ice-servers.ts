import { workersEnv, workersHostFacts } from "../shared/hosts/workers.ts";
import { handle } from "../shared/handle.ts";

// Workers have no process.env and no TCP Redis: variables are the Worker's bindings, read per
// request, and rate limits shared across isolates go through Upstash's REST protocol.
export default {
  fetch: (request: Request, bindings: Record<string, unknown>) => handle(request, workersEnv(bindings), workersHostFacts(request)),
};
