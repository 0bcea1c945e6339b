/**
 * The turn-keys CLI, run as a child process against the fake Cloudflare API:
 * every command in human and --json form, exit codes, and where secrets may show.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeTurnKey, startFakeCloudflareV4, v4Failure, type FakeCloudflareV4, type FakeTurnKey } from "./fake-cloudflare-v4.ts";
import { freePort } from "./helpers/process.ts";
import { startFakeCloudflareGraphql, type FakeCloudflareGraphql } from "./fake-cloudflare-graphql.ts";
import { startFakeMetered, type FakeMetered } from "./fake-metered.ts";
import { secret } from "./helpers/secrets.ts";

const TSX = fileURLToPath(new URL("../node_modules/.bin/tsx", import.meta.url));
const CLI = fileURLToPath(new URL("../cli/turn-keys.ts", import.meta.url));

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const API_TOKEN = secret("cfat-Secret-Account-Token-7c1e9b");
const WRONG_TOKEN = secret("cfat-Wrong-Account-Token-55aa01");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Everything any run printed, for the checks that secrets never leak. */
const printed: string[] = [];

let fake: FakeCloudflareV4;
let cwd: string;
let seeded: FakeTurnKey;

function baseEnv(): Record<string, string> {
  return {
    CLOUDFLARE_ACCOUNT_ID: ACCOUNT,
    CLOUDFLARE_API_TOKEN: API_TOKEN,
    CLOUDFLARE_API_BASE: `${fake.origin}/client/v4`,
    CLOUDFLARE_TURN_API_BASE: `${fake.origin}/v1`,
  };
}

/**
 * Runs the CLI with exactly `env` (plus PATH and HOME, never the developer's own
 * Cloudflare variables), stdin a closed pipe, in a directory without a .env.
 */
function cli(args: string[], env: Record<string, string | undefined> = baseEnv(), dir = cwd): Promise<Run> {
  const childEnv: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? dir };
  for (const [name, value] of Object.entries(env)) if (value !== undefined) childEnv[name] = value;
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [CLI, ...args], { cwd: dir, env: childEnv, detached: true, stdio: ["pipe", "pipe", "pipe"] });
    child.stdin.end();
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const killer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
    }, 12_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(killer);
      printed.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

const occurrences = (text: string, part: string) => text.split(part).length - 1;

beforeAll(async () => {
  seeded = fakeTurnKey("seeded-key");
  // leakSecrets: the fake misbehaves and returns secrets from list and get, which the CLI must not print.
  fake = await startFakeCloudflareV4({ accountId: ACCOUNT, apiToken: API_TOKEN, keys: [seeded], leakSecrets: true });
  cwd = await mkdtemp(join(tmpdir(), "turn-keys-"));
});

afterAll(async () => {
  await fake?.close();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

const lastRequest = () => fake.requests[fake.requests.length - 1];

describe("turn-keys help and usage", () => {
  it.each([["help"], ["--help"], ["-h"]])("%s prints the commands and exit codes", async (arg) => {
    const run = await cli([arg], {});
    expect(run.code).toBe(0);
    for (const word of ["list", "get <id>", "create <name>", "rename <id> <name>", "delete <id>", "revoke-credential <username>"]) {
      expect(run.stdout).toContain(word);
    }
    expect(run.stdout).toContain("Exit codes");
    expect(run.stdout).toContain("Calls Write");
  });

  it("runs as `npx turn-keys` inside a checkout, where dist/ is not built", { timeout: 60_000 }, async () => {
    const root = fileURLToPath(new URL("..", import.meta.url));
    const run = await new Promise<Run>((resolve) => {
      const child = spawn("npx", ["--no-install", "turn-keys", "help"], {
        cwd: root,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? cwd },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk) => (stdout += chunk));
      child.stderr.on("data", (chunk) => (stderr += chunk));
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
    expect([run.code, run.stderr]).toEqual([0, ""]);
    expect(run.stdout).toContain("Usage: turn-keys <command>");
  });

  it.each([[[]], [["frobnicate"]], [["get"]], [["rename", "only-id"]], [["list", "extra"]], [["list", "--bogus"]]])(
    "%j is a usage error (exit 2)",
    async (args) => {
      const before = fake.requests.length;
      const run = await cli(args);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/turn-keys: /);
      expect(fake.requests.length).toBe(before);
    },
  );
});

describe("turn-keys commands", () => {
  it("list prints a table without any secret", async () => {
    const run = await cli(["list"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^UID\s+NAME\s+CREATED\s+MODIFIED\n/);
    expect(run.stdout).toMatch(new RegExp(`${seeded.uid}\\s+seeded-key\\s+${seeded.created}`));
    expect(run.stdout + run.stderr).not.toContain(seeded.key);
    const request = lastRequest();
    expect(request.method).toBe("GET");
    expect(request.path).toBe(`/client/v4/accounts/${ACCOUNT}/calls/turn_keys`);
    expect(request.headers.authorization).toBe(`Bearer ${API_TOKEN}`);
  });

  it("list --json prints the keys, without their secrets", async () => {
    const run = await cli(["list", "--json"]);
    expect(run.code).toBe(0);
    const keys = JSON.parse(run.stdout) as Record<string, unknown>[];
    expect(keys).toContainEqual({ uid: seeded.uid, name: seeded.name, created: seeded.created, modified: seeded.modified });
    for (const key of keys) expect(key).not.toHaveProperty("key");
    expect(run.stdout + run.stderr).not.toContain(seeded.key);
  });

  it("get prints key-value lines without the secret", async () => {
    const run = await cli(["get", seeded.uid]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`uid:      ${seeded.uid}\n`);
    expect(run.stdout).toContain("name:     seeded-key\n");
    expect(run.stdout).toContain(`created:  ${seeded.created}\n`);
    expect(run.stdout + run.stderr).not.toContain(seeded.key);
    expect(lastRequest().path).toBe(`/client/v4/accounts/${ACCOUNT}/calls/turn_keys/${seeded.uid}`);
  });

  it("get --json prints the key without the secret", async () => {
    const run = await cli(["get", seeded.uid, "--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ uid: seeded.uid, name: seeded.name, created: seeded.created, modified: seeded.modified });
    expect(run.stdout + run.stderr).not.toContain(seeded.key);
  });

  it("get of an unknown key id is an API error (exit 1)", async () => {
    const run = await cli(["get", "ffffffffffffffffffffffffffffffff"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("unknown TURN key id");
    expect(run.stdout).toBe("");
  });

  it("create prints the secret exactly once, with a warning and the two lines to paste", async () => {
    const before = new Set(fake.keys.keys());
    const run = await cli(["create", "made by human"]);
    expect(run.code).toBe(0);
    const created = [...fake.keys.values()].find((key) => !before.has(key.uid))!;
    expect(created.name).toBe("made by human");
    expect(run.stdout).toMatch(/cannot show it again/);
    expect(run.stdout).toContain(`\nCLOUDFLARE_TURN_KEY_ID=${created.uid}\nCLOUDFLARE_TURN_KEY_API_TOKEN=${created.key}\n`);
    expect(occurrences(run.stdout + run.stderr, created.key)).toBe(1);
    const request = lastRequest();
    expect(request.method).toBe("POST");
    expect(request.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(request.body)).toEqual({ name: "made by human" });
  });

  it("create --json includes the secret once", async () => {
    const before = new Set(fake.keys.keys());
    const run = await cli(["create", "made by script", "--json"]);
    expect(run.code).toBe(0);
    const created = [...fake.keys.values()].find((key) => !before.has(key.uid))!;
    expect(JSON.parse(run.stdout)).toEqual(created);
    expect(occurrences(run.stdout + run.stderr, created.key)).toBe(1);
    expect(run.stderr).toMatch(/will not show it again/);
  });

  it("rename prints the renamed key", async () => {
    const key = fakeTurnKey("old name");
    fake.keys.set(key.uid, key);
    const run = await cli(["rename", key.uid, "new name"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("name:     new name\n");
    expect(run.stdout).not.toContain(key.key);
    expect(fake.keys.get(key.uid)?.name).toBe("new name");
    const request = lastRequest();
    expect(request.method).toBe("PUT");
    expect(request.path).toBe(`/client/v4/accounts/${ACCOUNT}/calls/turn_keys/${key.uid}`);
    expect(JSON.parse(request.body)).toEqual({ name: "new name" });
  });

  it("rename --json prints the key as JSON", async () => {
    const key = fakeTurnKey("json old");
    fake.keys.set(key.uid, key);
    const run = await cli(["rename", key.uid, "json new", "--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ uid: key.uid, name: "json new" });
    expect(run.stdout).not.toContain(key.key);
  });

  it("delete without --yes on a non-TTY stdin refuses (exit 2) and keeps the key", async () => {
    const key = fakeTurnKey("keep me");
    fake.keys.set(key.uid, key);
    const before = fake.requests.length;
    const run = await cli(["delete", key.uid]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--yes");
    expect(fake.keys.has(key.uid)).toBe(true);
    expect(fake.requests.length).toBe(before);
  });

  it("delete --yes deletes", async () => {
    const key = fakeTurnKey("delete me");
    fake.keys.set(key.uid, key);
    const run = await cli(["delete", key.uid, "--yes"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`Deleted TURN key ${key.uid}.\n`);
    expect(fake.keys.has(key.uid)).toBe(false);
    expect(lastRequest().method).toBe("DELETE");
  });

  it("delete -y --json prints the outcome as JSON", async () => {
    const key = fakeTurnKey("delete me too");
    fake.keys.set(key.uid, key);
    const run = await cli(["delete", "-y", "--json", key.uid]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ uid: key.uid, deleted: true });
    expect(fake.keys.has(key.uid)).toBe(false);
  });

  it("delete of an unknown key id is an API error (exit 1)", async () => {
    const run = await cli(["delete", "--yes", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("unknown TURN key id");
  });

  it("revoke-credential revokes with the TURN key's own token", async () => {
    const key = fakeTurnKey("revoker");
    fake.keys.set(key.uid, key);
    const env = { ...baseEnv(), CLOUDFLARE_TURN_KEY_ID: key.uid, CLOUDFLARE_TURN_KEY_API_TOKEN: key.key };
    const run = await cli(["revoke-credential", "user-a/1"], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("Revoked TURN credential user-a/1.\n");
    expect(fake.revoked).toContain("user-a/1");
    const request = lastRequest();
    expect(request.method).toBe("POST");
    expect(request.path).toBe(`/v1/turn/keys/${key.uid}/credentials/user-a%2F1/revoke`);
    expect(request.headers.authorization).toBe(`Bearer ${key.key}`);
    expect(run.stdout + run.stderr).not.toContain(key.key);

    const json = await cli(["revoke-credential", "user-b", "--json"], env);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ username: "user-b", revoked: true });
    expect(fake.revoked).toContain("user-b");
  });

  it("revoke-credential with a wrong TURN key token is an auth error (exit 4)", async () => {
    const env = { ...baseEnv(), CLOUDFLARE_TURN_KEY_ID: seeded.uid, CLOUDFLARE_TURN_KEY_API_TOKEN: WRONG_TOKEN };
    const run = await cli(["revoke-credential", "user-c"], env);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain("CLOUDFLARE_TURN_KEY_API_TOKEN");
    expect(fake.revoked).not.toContain("user-c");
  });
});

describe("turn-keys failures", () => {
  it("a missing variable is a configuration error (exit 3) that names it", async () => {
    const before = fake.requests.length;
    const run = await cli(["list"], { ...baseEnv(), CLOUDFLARE_ACCOUNT_ID: undefined });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("CLOUDFLARE_ACCOUNT_ID");
    expect(run.stderr).not.toContain("CLOUDFLARE_API_TOKEN");
    expect(fake.requests.length).toBe(before);
  });

  it("revoke-credential names both missing TURN key variables (exit 3)", async () => {
    const run = await cli(["revoke-credential", "someone"]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("CLOUDFLARE_TURN_KEY_ID");
    expect(run.stderr).toContain("CLOUDFLARE_TURN_KEY_API_TOKEN");
  });

  it("an API base that is not a URL is a configuration error (exit 3)", async () => {
    const run = await cli(["list"], { ...baseEnv(), CLOUDFLARE_API_BASE: "not a url" });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("CLOUDFLARE_API_BASE must be an http(s) URL");
  });

  it("a refused token is an auth error (exit 4) that asks for Calls Write, never echoing the token", async () => {
    const run = await cli(["list"], { ...baseEnv(), CLOUDFLARE_API_TOKEN: WRONG_TOKEN });
    expect(run.code).toBe(4);
    expect(run.stderr).toContain('"Calls Write"');
    expect(run.stderr).toContain("Authentication error");
    expect(run.stdout + run.stderr).not.toContain(WRONG_TOKEN);
  });

  it("an unreachable API is a network error (exit 5)", async () => {
    const port = await freePort();
    const run = await cli(["list"], { ...baseEnv(), CLOUDFLARE_API_BASE: `http://127.0.0.1:${port}/client/v4` });
    expect(run.code).toBe(5);
    expect(run.stderr).toContain(`http://127.0.0.1:${port} could not be reached`);
  });

  it("a 500 failure envelope is an API error (exit 1) with Cloudflare's messages", async () => {
    fake.queueFaults(v4Failure(500, { code: 1100, message: "Internal failure" }, { code: 1101, message: "Try later" }));
    const run = await cli(["list"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("HTTP 500: Internal failure [1100]; Try later [1101]");
  });

  it("success: false on a 200 is an API error (exit 1)", async () => {
    fake.queueFaults({
      kind: "status",
      status: 200,
      body: JSON.stringify({ success: false, errors: [{ code: 1200, message: "Quota reached" }], messages: [], result: null }),
    });
    const run = await cli(["create", "one too many"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("Quota reached [1200]");
  });

  it.each([["bad-json" as const], ["wrong-shape" as const]])("a %s answer is an invalid response (exit 5)", async (kind) => {
    fake.queueFaults({ kind });
    const run = await cli(["get", seeded.uid]);
    expect(run.code).toBe(5);
    expect(run.stderr).toMatch(/not JSON|unexpected result shape/);
  });

  it("reads a .env in the current directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "turn-keys-env-"));
    try {
      const { CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN, ...rest } = baseEnv();
      await writeFile(join(dir, ".env"), `CLOUDFLARE_ACCOUNT_ID=${CLOUDFLARE_ACCOUNT_ID}\nCLOUDFLARE_API_TOKEN=${CLOUDFLARE_API_TOKEN}\n`);
      const run = await cli(["list", "--json"], rest, dir);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toContainEqual(expect.objectContaining({ uid: seeded.uid }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("lets variables already set win over the .env", async () => {
    const dir = await mkdtemp(join(tmpdir(), "turn-keys-env-"));
    try {
      await writeFile(join(dir, ".env"), "CLOUDFLARE_ACCOUNT_ID=not-this-account\nCLOUDFLARE_API_TOKEN=not-this-token\n");
      const run = await cli(["list", "--json"], baseEnv(), dir);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toContainEqual(expect.objectContaining({ uid: seeded.uid }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("no output of any run carried an API token", () => {
    expect(printed.length).toBeGreaterThan(40);
    for (const text of printed) {
      expect(text).not.toContain(API_TOKEN);
      expect(text).not.toContain(WRONG_TOKEN);
    }
  });
});

describe("turn-keys usage", () => {
  const ANALYTICS_TOKEN = secret("cf-cli-analytics-token-Mn3Bv4Cx5");
  const METERED_KEY = secret("metered-cli-secret-Za6Sx7Dc8");
  let graphql: FakeCloudflareGraphql;
  let metered: FakeMetered;

  beforeAll(async () => {
    graphql = await startFakeCloudflareGraphql({ accountId: ACCOUNT, token: ANALYTICS_TOKEN });
    metered = await startFakeMetered({ secretKey: METERED_KEY });
  });
  afterAll(async () => {
    await graphql?.close();
    await metered?.close();
  });

  const usageEnv = (extra: Record<string, string> = {}) => ({
    CLOUDFLARE_TURN_KEY_ID: seeded.uid,
    CLOUDFLARE_TURN_KEY_API_TOKEN: seeded.key,
    CLOUDFLARE_TURN_API_BASE: `${fake.origin}/v1`,
    CLOUDFLARE_ACCOUNT_ID: ACCOUNT,
    CLOUDFLARE_ANALYTICS_TOKEN: ANALYTICS_TOKEN,
    CLOUDFLARE_GRAPHQL_URL: graphql.url,
    METERED_APP: metered.origin,
    METERED_SECRET_KEY: METERED_KEY,
    TURN_MONTHLY_LIMITS: "cloudflare:1000GB",
    ...extra,
  });
  const clean = (run: Run) => {
    for (const value of [ANALYTICS_TOKEN, METERED_KEY, seeded.key]) expect(run.stdout + run.stderr).not.toContain(value);
    return run;
  };

  it("prints each provider's figure against its limit, with a bar", async () => {
    graphql.keyBytes.set(seeded.uid, 250e9);
    metered.usage = { quotaInGB: 150, usageInGB: 3.5 };
    const run = clean(await cli(["usage"], usageEnv()));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`cloudflare  250.00 GB of 1.00 TB this month  [${"#".repeat(5)}${"-".repeat(15)}]  25 %`);
    expect(run.stdout).toContain("metered     3.50 GB this billing cycle, no limit set");
    const json = JSON.parse(clean(await cli(["usage", "--json"], usageEnv())).stdout);
    expect(json.providers).toEqual([
      { provider: "cloudflare", bytes: 250e9, limit: 1000e9, period: "month" },
      { provider: "metered", bytes: 3.5e9, period: "cycle" },
    ]);
  });

  it("says which figure could not be read, and exits 5", async () => {
    metered.setFault({ kind: "status", status: 500 });
    try {
      const run = clean(await cli(["usage"], usageEnv()));
      expect(run.code).toBe(5);
      expect(run.stdout).toContain("metered     unavailable: Metered's usage API answered with HTTP 500");
    } finally {
      metered.setFault(undefined);
    }
  });

  it("--by-user lists users against the quota, and --revoke-over-quota revokes the live usernames of those over it", async () => {
    graphql.userBytes.set("alice", 7e9);
    graphql.userBytes.set("bob", 1e9);
    graphql.usernames.set("alice", ["alice-live-1", "alice-live-2"]);
    graphql.usernames.set("bob", ["bob-live-1"]);
    const env = usageEnv({
      TURN_USER_MONTHLY_LIMIT: "5GB",
      AUTH_MODE: "jwt",
      AUTH_JWT_SECRET: "x".repeat(40),
      AUTH_JWT_ISSUER: "i",
      AUTH_JWT_AUDIENCE: "a",
    });
    const start = fake.revoked.length;
    const listed = clean(await cli(["usage", "--by-user"], env));
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/alice\s+7\.00 GB\s+\[#{20}\]! 140 %/);
    expect(listed.stdout).toMatch(/bob\s+1\.00 GB\s+\[#{4}-{16}\] {2}20 %/);
    expect(fake.revoked.length).toBe(start);
    const revoked = JSON.parse(clean(await cli(["usage", "--revoke-over-quota", "--json"], env)).stdout);
    expect(revoked.users).toContainEqual({ user: "alice", bytes: 7e9, quota: 5e9, revoked: 2 });
    expect(revoked.users).toContainEqual({ user: "bob", bytes: 1e9, quota: 5e9 });
    // Only the user over the quota; --by-user alone revoked nothing.
    expect(fake.revoked.slice(start)).toEqual(["alice-live-1", "alice-live-2"]);
  });

  it("names a missing analytics variable (exit 3), never a value", async () => {
    const { CLOUDFLARE_ANALYTICS_TOKEN: _, ...rest } = usageEnv();
    const run = clean(await cli(["usage"], rest));
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("CLOUDFLARE_ANALYTICS_TOKEN");
  });
});
