/**
 * The child process that hosts test/fake-cloudflare.ts for the bench, so that the
 * fake's work and timers do not share an event loop with the load generator. A
 * second, separate server on 127.0.0.1 is its control channel: its own requests
 * never count as the fake's requests or connections.
 *
 *   GET  /stats  → {"requests": n, "connections": n}
 *   POST /reset  → forgets requests, connections and faults
 *   POST /fault  → body: a Fault as JSON, or null to clear it
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { startFakeCloudflare } from "../test/fake-cloudflare.ts";
import { readBody, send, type Fault } from "../test/fake-upstream.ts";
import { FAKE_API_TOKEN, FAKE_KEY_ID, FAKE_READY, type FakeReady, type FakeStats } from "./protocol.ts";

async function main(): Promise<void> {
  const fake = await startFakeCloudflare({ keyId: FAKE_KEY_ID, apiToken: FAKE_API_TOKEN });

  const control = createServer(async (req, res) => {
    const body = await readBody(req);
    const reply = (status: number, body: unknown) => send(res, { status, body });
    if (req.method === "GET" && req.url === "/stats") {
      const stats: FakeStats = { requests: fake.requests.length, connections: fake.connections() };
      return reply(200, stats);
    }
    if (req.method === "POST" && req.url === "/reset") {
      fake.reset();
      return reply(200, { ok: true });
    }
    if (req.method === "POST" && req.url === "/fault") {
      fake.setFault((JSON.parse(body) as Fault | null) ?? undefined);
      return reply(200, { ok: true });
    }
    reply(404, { error: "unknown control request" });
  });
  await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
  const { port } = control.address() as AddressInfo;

  const ready: FakeReady = { apiBase: fake.apiBase, control: `http://127.0.0.1:${port}` };
  process.stdout.write(`${FAKE_READY}${JSON.stringify(ready)}\n`);

  const shutdown = () => {
    control.close();
    fake.close().finally(() => process.exit(0));
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}

main().catch((error) => {
  console.error(`fake host failed: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
