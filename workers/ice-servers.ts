import { workersEnv, workersHostFacts } from "../shared/hosts/workers.ts";
import { createService } from "../shared/service.ts";

const service = createService();

// Workers have no process.env and no TCP Redis: variables are the Worker's bindings, read per
// request, and rate limits shared across isolates go through Upstash's REST protocol.
// ctx.waitUntil keeps a usage read that runs behind an answer alive: the Worker cancels what is left otherwise.
export default {
  fetch: (request: Request, bindings: Record<string, unknown>, ctx: { waitUntil(work: Promise<unknown>): void }) =>
    service.handle(request, workersEnv(bindings), { ...workersHostFacts(request), waitUntil: (work) => ctx.waitUntil(work) }),
};
