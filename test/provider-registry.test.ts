/**
 * A provider is registered in one place, shared/providers/index.ts; everything that lists
 * providers must follow. The compiler covers the core (ids, revoke tokens, TURN_PROVIDERS); this
 * covers what it cannot see: the client's hand-written types, and the docs that name providers,
 * their variables and their limits.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { IceServersProvider } from "turn-vend/client";
import { MAX_TTL, parseConfig } from "../shared/config.ts";
import { LOCAL_RELAY, PROVIDER_IDS, PROVIDERS, type ProviderId, type ServedBy } from "../shared/providers/index.ts";
import { signRevokeToken, verifyRevokeToken } from "../shared/revocation/revoke-token.ts";
import { recordingReads } from "./helpers/env.ts";
import { secret } from "./helpers/secrets.ts";
import { webCryptoHmac } from "../shared/hmac.ts";

// WebCrypto's HMAC, as a service instance keeps it by default.
const hmac = webCryptoHmac();

const ROOT = resolve(import.meta.dirname, "..");
const read = (file: string) => readFileSync(join(ROOT, file), "utf8");

/** The table rows of a markdown page, as arrays of trimmed cells. */
function rows(page: string): string[][] {
  return read(page)
    .split("\n")
    .filter((line) => line.startsWith("| "))
    .map((line) =>
      line
        .slice(1, -1)
        .split(" | ")
        .map((cell) => cell.trim()),
    );
}

describe("the one list of providers", () => {
  it("has no id twice, and none that is an answer's label for something else", () => {
    expect(new Set(PROVIDER_IDS).size).toBe(PROVIDER_IDS.length);
    expect(PROVIDER_IDS).not.toContain(LOCAL_RELAY);
    expect(PROVIDER_IDS).not.toContain("none");
  });

  it("is not stretched to npm start's own coturn: TURN_PROVIDERS refuses local-relay", () => {
    expect(() => parseConfig({ TURN_PROVIDERS: LOCAL_RELAY })).toThrow("TURN_PROVIDERS names an unknown provider");
  });

  it("is what TURN_PROVIDERS accepts, and names them all when it refuses one", () => {
    expect(() => parseConfig({ TURN_PROVIDERS: "nobody" })).toThrow(`use ${PROVIDER_IDS.join(", ")}`);
  });

  it("is what revoke tokens accept", async () => {
    const key = secret("registry-revoke-signing-secret-0123456789");
    for (const provider of PROVIDER_IDS) {
      const token = await signRevokeToken(key, { provider, username: "u", expiresAt: 4_000_000_000 }, hmac);
      expect(await verifyRevokeToken(key, token, 0, hmac)).toMatchObject({ ok: true, claims: { provider } });
    }
  });

  it("gives each provider a largest TTL no longer than the service's own", () => {
    for (const provider of PROVIDERS) {
      expect(Number.isInteger(provider.maxTtl) && provider.maxTtl >= 1 && provider.maxTtl <= MAX_TTL, provider.id).toBe(true);
    }
  });
});

/** Every name an answer's `provider` can carry. */
const SERVED_BY: readonly ServedBy[] = [...PROVIDER_IDS, LOCAL_RELAY, "none"];

describe("the client's types", () => {
  it("name every provider, and none else (checked by tsc)", () => {
    expectTypeOf<IceServersProvider>().toEqualTypeOf<ServedBy>();
  });

  it("name every provider, and none else (read from the .d.ts)", () => {
    const union = /export type IceServersProvider = ([^;]+);/.exec(read("client/turn-client.d.ts"))?.[1] ?? "";
    const names = [...union.matchAll(/"([a-z-]+)"/g)].map((match) => match[1]);
    expect(names.sort()).toEqual([...SERVED_BY].sort());
  });
});

const TWILIO_SID = `AC${"0".repeat(32)}`;
const WORKING: Record<ProviderId, Record<string, string>[]> = {
  cloudflare: [{ CLOUDFLARE_TURN_KEY_ID: "k", CLOUDFLARE_TURN_KEY_API_TOKEN: "t" }],
  metered: [
    { METERED_APP: "demo", METERED_SECRET_KEY: "s" },
    { METERED_APP: "demo", METERED_API_KEY: "a", METERED_REGION: "global" },
  ],
  "shared-secret": [{ TURN_SHARED_SECRET: "registry-shared-secret-0123456789abcdef", TURN_URLS: "turn:t.example" }],
  twilio: [
    { TWILIO_ACCOUNT_SID: TWILIO_SID, TWILIO_AUTH_TOKEN: "t" },
    { TWILIO_ACCOUNT_SID: TWILIO_SID, TWILIO_API_KEY_SID: `SK${"0".repeat(32)}`, TWILIO_API_KEY_SECRET: "s" },
  ],
  xirsys: [{ XIRSYS_IDENT: "i", XIRSYS_SECRET: "s", XIRSYS_CHANNEL: "c" }],
};

describe("each provider's own list of variables", () => {
  // `variables` feeds the docs' checks below; the parse itself is watched by what it reads
  // (shared/config.ts), so here the list is held to what configure() really reads.
  it.each(PROVIDERS.map((provider) => [provider.id, provider] as const))(
    "%s declares exactly the variables its configure() reads",
    (_, provider) => {
      const read = new Set<string>();
      const attempt = (env: Record<string, string>) => {
        try {
          provider.configure(recordingReads(env, read));
        } catch {
          // Half a configuration is refused; what it read on the way still counts.
        }
      };
      attempt({});
      for (const name of provider.variables) attempt({ [name]: "x" });
      attempt(Object.fromEntries(provider.variables.map((name) => [name, "x"])));
      // Some variables are read only once the others are valid.
      expect(WORKING[provider.id], `a working configuration of ${provider.id} in this test`).toBeDefined();
      for (const env of WORKING[provider.id]) {
        expect(() => provider.configure(env)).not.toThrow();
        attempt(env);
      }
      expect([...read].sort()).toEqual([...provider.variables].sort());
    },
  );
});

describe("each provider's usage reader", () => {
  const USAGE_ENV = { CLOUDFLARE_ACCOUNT_ID: "0123456789abcdef0123456789abcdef", CLOUDFLARE_ANALYTICS_TOKEN: "t" };
  it.each(PROVIDERS.map((provider) => [provider.id, provider] as const))(
    "%s declares exactly the variables its usage reader reads, and the docs list them",
    (_, provider) => {
      if (!provider.usage) return;
      const read = new Set<string>();
      const config = provider.configure(WORKING[provider.id][0]);
      provider.usage.configure(recordingReads(USAGE_ENV, read), config);
      expect([...read].sort()).toEqual([...provider.usage.variables].sort());
      const documented = rows("docs/configuration.md")
        .map((cells) => cells[0])
        .join(" ");
      for (const name of provider.usage.variables) expect(documented, `${provider.id}: ${name}`).toContain(`\`${name}\``);
    },
  );

  it("exists exactly for the providers configuration.md gives a usage figure", () => {
    const table = rows("docs/configuration.md").filter((cells) => cells.length === 4 && /^`[a-z-]+`(, `[a-z-]+`)*$/.test(cells[0]));
    for (const provider of PROVIDERS) {
      const row = table.find((cells) => cells[0].split(", ").includes(`\`${provider.id}\``));
      expect(row, provider.id).toBeDefined();
      expect(row![1].startsWith("None"), provider.id).toBe(provider.usage === undefined);
    }
  });
});

describe("the docs", () => {
  it("configuration.md states each provider's id, largest TTL and revocability, in registration order", () => {
    const table = rows("docs/configuration.md").filter((cells) => cells.length === 4 && /^`[a-z-]+`$/.test(cells[1]));
    expect(table.map((cells) => cells[1].slice(1, -1))).toEqual(PROVIDER_IDS);
    for (const provider of PROVIDERS) {
      const [, , limit, revocable] = table.find((cells) => cells[1] === `\`${provider.id}\``)!;
      expect(limit.replace(/,/g, ""), provider.id).toContain(`${provider.maxTtl} s`);
      expect(revocable.startsWith(provider.revoke ? "yes" : "no"), `${provider.id}: ${revocable}`).toBe(true);
    }
  });

  it("configuration.md lists every variable each provider reads", () => {
    const documented = rows("docs/configuration.md")
      .map((cells) => cells[0])
      .join(" ");
    for (const provider of PROVIDERS) {
      for (const name of provider.variables) expect(documented, `${provider.id}: ${name}`).toContain(`\`${name}\``);
    }
  });

  it.each([
    ["docs/configuration.md", /`TURN_PROVIDERS` \|[^\n]*in the order ([a-z, -]+)\./],
    [".env.example", /default: ([a-z, -]+), as configured/],
  ])("%s gives the default order of every provider", (file, pattern) => {
    const order = pattern.exec(read(file))?.[1].split(", ");
    expect(order).toEqual(PROVIDER_IDS);
  });

  it.each([
    ["docs/http-api.md", /`provider` says who served \(([^)]+)\)/],
    ["docs/client.md", /\| `provider` \| ([^|]+) \|/],
  ])("%s names every provider an answer can come from", (file, pattern) => {
    const text = pattern.exec(read(file))?.[1] ?? "";
    const named = [...text.matchAll(/`([a-z-]+)`/g)].map((match) => match[1]);
    expect(named.sort()).toEqual([...SERVED_BY].sort());
  });
});
