import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { expect, it } from "vitest";
import { secret } from "./helpers/secrets.ts";
import { CONTRACT_TOKEN } from "./contract/cases.ts";
import { describeContract } from "./contract/vitest-suite.ts";
import { startDenoServe, type DenoServe } from "./helpers/deno-serve.ts";
import { describeHostChain } from "./helpers/host-chain.ts";

// The Deno Deploy entry (deno/serve.ts) under `deno task serve`: Deno's own runtime and server.
let deno: DenoServe | undefined;

describeContract("Deno Deploy entry under deno task serve", async (env) => {
  deno = await startDenoServe(env);
  return {
    send: (path, init) => fetch(`${deno!.origin}${path}`, init),
    close: () => deno!.close(),
  };
});

// Runs after the contract: by then every upstream fault has been logged.
it("deno serve never printed the API token", () => {
  // The 401 case logs an operator hint: seeing it proves the server's log is what is scanned.
  expect(deno?.server.output()).toContain("OPERATOR: Cloudflare refused our credentials");
  expect(deno!.server.output()).not.toContain(CONTRACT_TOKEN);
});

describeHostChain("the Deno Deploy entry under deno task serve", async (env) => {
  const started = await startDenoServe(env);
  return { origin: started.origin, output: () => started.server.output(), close: () => started.close() };
});

it("deno serve on Deno Deploy counts the connection's peer, not a header a client could forge, and trusts the routed Host", async () => {
  const limited = await startDenoServe({
    // What Deno Deploy sets in every deployment: there, a request reaches the app only by its hosts.
    DENO_DEPLOYMENT_ID: "test-deployment",
    TURN_SHARED_SECRET: secret("deno-serve-shared-Secret-7Uj9Ik1Ol3Pm"),
    TURN_URLS: "turn:turn.example.test:3478",
    // startDenoServe's readiness request is the first of the three this peer may make.
    RATE_LIMIT: "3/60s",
  });
  try {
    const statuses: number[] = [];
    for (let i = 1; i <= 3; i += 1) {
      const forged = `198.51.100.${i}`;
      const answer = await fetch(`${limited.origin}/api/ice-servers`, {
        headers: { "x-forwarded-for": forged, "x-real-ip": forged, "cf-connecting-ip": forged, "true-client-ip": forged },
      });
      await answer.body?.cancel();
      statuses.push(answer.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    // Same origin is the host the request was routed by: Deno Deploy routes by host. (Past the
    // origin check, this peer is over its limit.)
    const routed = `https://${new URL(limited.origin).host}`;
    const elsewhere = `https://localhost:${new URL(limited.origin).port}`;
    for (const [origin, status] of [
      [routed, 429],
      [elsewhere, 403],
      ["https://evil.example", 403],
    ] as const) {
      const answer = await fetch(`${limited.origin}/api/ice-servers`, { headers: { origin } });
      await answer.body?.cancel();
      expect([origin, answer.status]).toEqual([origin, status]);
    }
  } finally {
    await limited.close();
  }
}, 60_000);

/** One HTTP/1.1 request written as is (fetch cannot send a malformed Host), and the status line. */
function rawStatus(port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(`GET /api/ice-servers HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
    let answer = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      answer += chunk;
    });
    socket.on("end", () => resolve(`${answer.split("\r\n")[0]} ${/"code":"([a-z_]+)"/.exec(answer)?.[1] ?? ""}`.trim()));
    socket.on("error", reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer for Host ${host}`)));
  });
}

it("deno task serve on a machine listens on loopback and answers only its own names, as npm start does", async () => {
  const local = await startDenoServe({
    TURN_SHARED_SECRET: secret("deno-local-shared-Secret-4Rf6Tg8Yh0Uj"),
    TURN_URLS: "turn:turn.example.test:3478",
  });
  try {
    const port = Number(new URL(local.origin).port);
    // Another address of this machine reaches nothing: the server listens on 127.0.0.1 alone.
    const outside = Object.values(networkInterfaces())
      .flatMap((entries) => entries ?? [])
      .find((entry) => entry.family === "IPv4" && !entry.internal)?.address;
    if (outside) {
      const reached = await fetch(`http://${outside}:${port}/api/ice-servers`).then(
        () => true,
        () => false,
      );
      expect(reached, `listening on ${outside}`).toBe(false);
    }
    // A DNS-rebinding page's name is refused; malformed Hosts are 400s (five of these were 500s).
    const answers: Record<string, string> = {};
    for (const host of ["evil.example", `evil.example:${port}`, "a b", "[::1", "x:99999", "host:abc", "[zz]", "a/b"]) {
      answers[host] = await rawStatus(port, host);
    }
    expect(answers).toEqual({
      "evil.example": "HTTP/1.1 421 Misdirected Request host_not_allowed",
      [`evil.example:${port}`]: "HTTP/1.1 421 Misdirected Request host_not_allowed",
      "a b": "HTTP/1.1 400 Bad Request invalid_request",
      "[::1": "HTTP/1.1 400 Bad Request invalid_request",
      "x:99999": "HTTP/1.1 400 Bad Request invalid_request",
      "host:abc": "HTTP/1.1 400 Bad Request invalid_request",
      "[zz]": "HTTP/1.1 400 Bad Request invalid_request",
      "a/b": "HTTP/1.1 400 Bad Request invalid_request",
    });
    expect(await rawStatus(port, `localhost:${port}`)).toBe("HTTP/1.1 200 OK");
    // Its own pages are those on its loopback names and port, not whatever Host a request names.
    for (const [origin, status] of [
      [`http://localhost:${port}`, 200],
      [`http://127.0.0.1:${port}`, 200],
      ["https://evil.example", 403],
    ] as const) {
      const answer = await fetch(`${local.origin}/api/ice-servers`, { headers: { origin } });
      await answer.body?.cancel();
      expect([origin, answer.status]).toEqual([origin, status]);
    }
  } finally {
    await local.close();
  }
}, 60_000);
