/**
 * When every provider fails, the answer is the most telling failure, in the
 * order docs/configuration.md gives. Each case fails Cloudflare and Metered in two adjacent ways of
 * that order, both ways round, and expects the more telling one.
 */
import { describe, expect, it } from "vitest";
import { createService } from "../../shared/service.ts";
import type { Fetch } from "../../shared/upstream/upstream.ts";
import { quietLog } from "../helpers/log.ts";

// This file's own instance of the service.
const { handle } = createService();

type Failure = "unauthorized" | "rate_limited" | "unavailable" | "invalid_response" | "error" | "timeout" | "unreachable";

// docs/configuration.md's order, most telling first.
const ORDER: Failure[] = ["unauthorized", "rate_limited", "unavailable", "invalid_response", "error", "timeout", "unreachable"];

function answer(failure: Failure, signal: AbortSignal): Promise<Response> {
  switch (failure) {
    case "unauthorized":
      return Promise.resolve(new Response("{}", { status: 401 }));
    case "rate_limited":
      return Promise.resolve(new Response("{}", { status: 429 }));
    case "unavailable":
      return Promise.resolve(new Response("{}", { status: 503 }));
    case "invalid_response":
      return Promise.resolve(new Response("not json", { status: 200 }));
    case "error":
      return Promise.resolve(new Response("{}", { status: 500 }));
    case "timeout":
      return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
    case "unreachable":
      return Promise.reject(new TypeError("fetch failed"));
  }
}

const ENV = {
  CLOUDFLARE_TURN_KEY_ID: "kid",
  CLOUDFLARE_TURN_KEY_API_TOKEN: "token",
  CLOUDFLARE_TURN_API_BASE: "https://cloudflare.test/v1",
  METERED_APP: "https://metered.test",
  METERED_SECRET_KEY: "metered-key",
  TURN_PROVIDERS: "cloudflare,metered",
  TURN_UPSTREAM_TIMEOUT_MS: "50",
  RATE_LIMIT: "off",
};

const pairs = ORDER.slice(0, -1).flatMap((better, index) => {
  const worse = ORDER[index + 1];
  return [
    [better, worse, better],
    [worse, better, better],
  ] as const;
});

describe("the most telling failure wins", () => {
  it.each(pairs)("Cloudflare %s, Metered %s → upstream_%s", async (cloudflare, metered, expected) => {
    const fetch: Fetch = (url, init) => answer(url.startsWith("https://cloudflare.test") ? cloudflare : metered, init.signal);
    const response = await handle(new Request("https://site.example/api/ice-servers"), ENV, { fetch, random: () => 0, log: quietLog() });
    expect((await response.json()).error.code).toBe(`upstream_${expected}`);
  });
});
