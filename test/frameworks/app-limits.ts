/**
 * What an app that mounts the package must do besides the contract: count every caller under
 * `RATE_LIMIT=10/60s` (the eleventh request from one address refused), and serve its own
 * page's POST (`Sec-Fetch-Site: same-origin` with the app's Origin) without configuration.
 * Requests leave from chosen loopback addresses (127.0.0.2, 127.0.0.3…), so an app that counts
 * by the socket's peer can be seen telling callers apart.
 */
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { secret } from "../helpers/secrets.ts";

export const LIMIT_ENV = {
  TURN_SHARED_SECRET: secret("framework-recipe-shared-secret-0123456789abcdef"),
  TURN_URLS: "turn:turn.example.com:3478",
  RATE_LIMIT: "10/60s",
};

export interface RunningApp {
  origin: string;
  stop(): Promise<void>;
}

interface Answer {
  status: number;
  json: any;
}

/** One request from `localAddress` (a loopback address of its own). */
function from(localAddress: string, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const outgoing = httpRequest(
      url,
      { method: init.method ?? "GET", headers: init.headers, localAddress, timeout: 10_000 },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = text;
          }
          resolve({ status: response.statusCode ?? 0, json });
        });
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error(`${url} did not answer`)));
    outgoing.on("error", reject);
    outgoing.end(init.body);
  });
}

/**
 * `counts`: "per-caller" when the app passes the socket's peer as clientIp (another address is
 * still served), "shared" when it cannot know one (the whole app's allowance is spent).
 * `start` must wait for the app on a path outside the route, so that no request is counted before.
 */
export function describeAppLimits(
  name: string,
  start: (env: Record<string, string>) => Promise<RunningApp>,
  options: { counts: "per-caller" | "shared"; strayTargetStatus?: number },
) {
  const { counts } = options;
  describe(`${name}: rate limit and the app's own pages`, () => {
    let app: RunningApp;
    beforeAll(async () => {
      app = await start(LIMIT_ENV);
    }, 120_000);
    afterAll(() => app?.stop());

    it("serves a same-origin POST from its own page", async () => {
      const answer = await from("127.0.0.3", `${app.origin}/api/ice-servers`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: app.origin, "sec-fetch-site": "same-origin" },
        body: JSON.stringify({ ttl: 600 }),
      });
      expect(answer.status, JSON.stringify(answer.json)).toBe(200);
      expect(answer.json.iceServers[0].urls).toEqual(["turn:turn.example.com:3478"]);
    });

    it(`refuses a caller's eleventh request under RATE_LIMIT=10/60s (${counts})`, async () => {
      // Shared: the same-origin POST above was the allowance's first request (start-up polls another path).
      const allowed = counts === "shared" ? 9 : 10;
      const statuses: number[] = [];
      for (let sent = 0; sent < allowed; sent++) statuses.push((await from("127.0.0.2", `${app.origin}/api/ice-servers`)).status);
      expect(statuses).toEqual(Array(allowed).fill(200));
      const eleventh = await from("127.0.0.2", `${app.origin}/api/ice-servers`);
      expect([eleventh.status, eleventh.json?.error?.code]).toEqual([429, "rate_limited"]);
      // A header naming another client changes nothing: the count is by what the caller cannot choose.
      const forged = await from("127.0.0.2", `${app.origin}/api/ice-servers`, {
        headers: { "x-forwarded-for": "203.0.113.9", "x-real-ip": "203.0.113.9" },
      });
      expect(forged.status).toBe(429);
      const other = await from("127.0.0.4", `${app.origin}/api/ice-servers`);
      expect(other.status).toBe(counts === "per-caller" ? 200 : 429);
    });

    if (options.strayTargetStatus !== undefined) {
      it(`answers a //host/… request-target itself (${options.strayTargetStatus}), without CORS`, async () => {
        const answer = await fetch(`${app.origin}//evil.example/api/ice-servers`, { headers: { origin: "https://evil.example" } });
        expect(answer.status).toBe(options.strayTargetStatus);
        expect(answer.headers.get("access-control-allow-origin")).toBeNull();
      });
    }
  });
}
