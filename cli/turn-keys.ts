#!/usr/bin/env -S npx tsx
/**
 * turn-keys: manage Cloudflare TURN keys from a terminal, without curl.
 * A thin shell: arguments, environment, confirmation and printing live here;
 * requests and the judging of answers live in shared/, where the server can reuse them.
 */
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import {
  CLOUDFLARE_ACCOUNT_API_BASE,
  CloudflareApiError,
  exchange,
  prepareCreateKey,
  prepareDeleteKey,
  prepareGetKey,
  prepareListKeys,
  prepareRenameKey,
  processCreateKey,
  processDeleteKey,
  processGetKey,
  processListKeys,
  processRenameKey,
  type AccountApiConfig,
  type CreatedTurnKey,
  type TurnKey,
} from "../shared/providers/cloudflare/keys.ts";
import { processRevokeCredential } from "../shared/providers/cloudflare/keys.ts";
import { prepareRevokeCredential } from "../shared/providers/cloudflare/turn.ts";
import { CLOUDFLARE_DEFAULT_API_BASE, type CloudflareConfig } from "../shared/providers/cloudflare/turn.ts";
import type { UpstreamReply, UpstreamRequest } from "../shared/upstream/upstream.ts";
import { ServiceError } from "../shared/errors.ts";
import { printable } from "./printable.ts";
import { usageCommand } from "./usage.ts";

const EXIT = { ok: 0, api: 1, usage: 2, config: 3, auth: 4, network: 5 } as const;

const HELP = `Usage: turn-keys <command> [options]

Manage the Cloudflare TURN keys of an account.

Commands:
  list                          List the TURN keys of the account
  get <id>                      Show one TURN key
  create <name>                 Create a TURN key and print its secret, once
  rename <id> <name>            Rename a TURN key
  delete <id>                   Delete a TURN key (asks first; see --yes)
  revoke-credential <username>  Revoke one TURN credential minted with the configured TURN key
  usage                         Each provider's usage this month against TURN_MONTHLY_LIMITS, with a bar
  help                          Show this help

Options:
  --json       Print the result as JSON on stdout
  --yes, -y    Delete without asking
  --by-user    usage: also Cloudflare's per-user figures against TURN_USER_MONTHLY_LIMIT
  --revoke-over-quota
               usage: revoke the live credentials of each user over TURN_USER_MONTHLY_LIMIT
  --help, -h   Show this help

Environment (a .env file in the current directory is read too):
  CLOUDFLARE_ACCOUNT_ID          Account id (all commands but revoke-credential)
  CLOUDFLARE_API_TOKEN           API token with the "Calls Write" permission (same)
  CLOUDFLARE_API_BASE            Optional, default ${CLOUDFLARE_ACCOUNT_API_BASE}
  CLOUDFLARE_TURN_KEY_ID         TURN key id (revoke-credential)
  CLOUDFLARE_TURN_KEY_API_TOKEN  TURN key API token (revoke-credential)
  CLOUDFLARE_TURN_API_BASE       Optional, default ${CLOUDFLARE_DEFAULT_API_BASE}
  usage reads the server's own variables: the providers', TURN_MONTHLY_LIMITS,
  TURN_USER_MONTHLY_LIMIT, CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_ANALYTICS_TOKEN

Exit codes:
  0  success
  1  API error: Cloudflare refused the request, unknown key id, other failure
  2  usage error: bad command or arguments, or delete not confirmed
  3  configuration error: a missing or invalid environment variable
  4  authentication or permission error (HTTP 401/403)
  5  network error or invalid response

See docs/turn-keys.md.
`;

/** A failure with its own exit code; the message is safe to print. */
class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

const usageError = (message: string) => new CliError(EXIT.usage, `${message}\nRun "turn-keys help" for usage.`);

const API_EXIT: Record<CloudflareApiError["code"], number> = {
  unauthorized: EXIT.auth,
  not_found: EXIT.api,
  api_error: EXIT.api,
  invalid_response: EXIT.network,
  network_error: EXIT.network,
};

const SECRET_VARIABLES = [
  "CLOUDFLARE_API_TOKEN",
  "CLOUDFLARE_TURN_KEY_API_TOKEN",
  "CLOUDFLARE_ANALYTICS_TOKEN",
  "METERED_SECRET_KEY",
  "TWILIO_AUTH_TOKEN",
  "TWILIO_API_KEY_SECRET",
];

/** Defence in depth: whatever reaches stderr is scrubbed of the configured tokens. */
function redact(text: string): string {
  let clean = text;
  for (const name of SECRET_VARIABLES) {
    const secret = process.env[name]?.trim();
    if (secret && secret.length >= 4) clean = clean.split(secret).join("[redacted]");
  }
  return clean;
}

// ---- environment -------------------------------------------------------------

function loadDotEnv(): void {
  if (!existsSync(".env")) return;
  try {
    process.loadEnvFile(".env");
  } catch {
    throw new CliError(EXIT.config, "could not read .env in the current directory");
  }
}

/** Names every missing variable at once; values are never printed. */
function requireVariables(...names: string[]): string[] {
  const values = names.map((name) => process.env[name]?.trim() ?? "");
  const missing = names.filter((_, index) => values[index] === "");
  if (missing.length > 0) {
    const list = missing.join(", ");
    throw new CliError(EXIT.config, `missing environment variable${missing.length > 1 ? "s" : ""}: ${list} (see docs/turn-keys.md)`);
  }
  return values;
}

function baseUrl(name: string, fallback: string): string {
  const value = process.env[name]?.trim();
  if (!value) return fallback;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(EXIT.config, `${name} must be an http(s) URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new CliError(EXIT.config, `${name} must be an http(s) URL`);
  return value.replace(/\/+$/, "");
}

function accountConfig(): AccountApiConfig {
  const [accountId, apiToken] = requireVariables("CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN");
  return { accountId, apiToken, apiBase: baseUrl("CLOUDFLARE_API_BASE", CLOUDFLARE_ACCOUNT_API_BASE) };
}

function turnKeyConfig(): CloudflareConfig {
  const [keyId, apiToken] = requireVariables("CLOUDFLARE_TURN_KEY_ID", "CLOUDFLARE_TURN_KEY_API_TOKEN");
  return { keyId, apiToken, apiBase: baseUrl("CLOUDFLARE_TURN_API_BASE", CLOUDFLARE_DEFAULT_API_BASE) };
}

// ---- arguments -----------------------------------------------------------------

interface Options {
  json: boolean;
  yes: boolean;
  byUser: boolean;
  revokeOverQuota: boolean;
}

function expectArgs(command: string, args: string[], names: string[]): string[] {
  if (args.length !== names.length) {
    throw usageError(`"${command}" takes ${names.map((name) => `<${name}>`).join(" ") || "no arguments"}`);
  }
  args.forEach((value, index) => {
    if (value.trim() === "") throw usageError(`<${names[index]}> cannot be empty`);
    // URL parsing drops dot segments, which would aim the request at another endpoint.
    if (names[index] !== "name" && /^(\.|%2e){1,2}$/i.test(value)) throw usageError(`<${names[index]}> cannot be "." or ".."`);
  });
  return args;
}

// ---- output --------------------------------------------------------------------

const out = (text: string) => process.stdout.write(text);
const json = (value: unknown) => out(`${JSON.stringify(value, null, 2)}\n`);

function keyLines(key: TurnKey): string {
  const rows: [string, string | undefined][] = [
    ["uid", key.uid],
    ["name", key.name],
    ["created", key.created],
    ["modified", key.modified],
  ];
  return rows.map(([label, value]) => `${`${label}:`.padEnd(10)}${printable(value ?? "-")}\n`).join("");
}

function keyTable(keys: TurnKey[]): string {
  if (keys.length === 0) return "No TURN keys.\n";
  const rows = [
    ["UID", "NAME", "CREATED", "MODIFIED"],
    ...keys.map((key) => [key.uid, key.name ?? "-", key.created ?? "-", key.modified ?? "-"].map((cell) => printable(cell))),
  ];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows
    .map(
      (row) =>
        `${row
          .map((cell, column) => cell.padEnd(widths[column]))
          .join("  ")
          .trimEnd()}\n`,
    )
    .join("");
}

/** The one place a secret is printed, and only once: inside the line to paste. */
function printCreated(key: CreatedTurnKey, options: Options): void {
  if (options.json) {
    process.stderr.write('Warning: the "key" in this output is the TURN key secret; Cloudflare will not show it again.\n');
    json(key);
    return;
  }
  out(`Created TURN key.\n${keyLines(key)}\n`);
  out("WARNING: the secret below is shown this once; Cloudflare cannot show it again. Store it now.\n");
  out("Paste these lines into your environment (.env, Netlify or Vercel settings):\n\n");
  out(`CLOUDFLARE_TURN_KEY_ID=${key.uid}\nCLOUDFLARE_TURN_KEY_API_TOKEN=${key.key}\n`);
}

// ---- commands ------------------------------------------------------------------

async function call<T>(request: UpstreamRequest, judge: (reply: UpstreamReply) => T, keyId?: string): Promise<T> {
  try {
    return judge(await exchange(fetch, request));
  } catch (error) {
    // Cloudflare's 404 does not say which id it did not know; the operator may have typed several.
    if (keyId !== undefined && error instanceof CloudflareApiError && error.code === "not_found") {
      throw new CloudflareApiError(error.code, `${error.message}: ${keyId}`, error.status);
    }
    throw error;
  }
}

/** Resolves false on anything but y/yes, including end of input. */
function confirm(question: string): Promise<boolean> {
  return new Promise((resolve) => {
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    let answered = false;
    prompt.on("close", () => {
      if (!answered) resolve(false);
    });
    prompt.question(question, (answer) => {
      answered = true;
      prompt.close();
      resolve(/^y(es)?$/i.test(answer.trim()));
    });
  });
}

async function run(command: string, args: string[], options: Options): Promise<number> {
  switch (command) {
    case "list": {
      expectArgs(command, args, []);
      const keys = await call(prepareListKeys(accountConfig()), processListKeys);
      if (options.json) json(keys);
      else out(keyTable(keys));
      return EXIT.ok;
    }
    case "get": {
      const [id] = expectArgs(command, args, ["id"]);
      const key = await call(prepareGetKey(accountConfig(), id), processGetKey, id);
      if (options.json) json(key);
      else out(keyLines(key));
      return EXIT.ok;
    }
    case "create": {
      const [name] = expectArgs(command, args, ["name"]);
      printCreated(await call(prepareCreateKey(accountConfig(), name), processCreateKey), options);
      return EXIT.ok;
    }
    case "rename": {
      const [id, name] = expectArgs(command, args, ["id", "name"]);
      const key = await call(prepareRenameKey(accountConfig(), id, name), processRenameKey, id);
      if (options.json) json(key);
      else out(`Renamed TURN key.\n${keyLines(key)}`);
      return EXIT.ok;
    }
    case "delete": {
      const [id] = expectArgs(command, args, ["id"]);
      const config = accountConfig();
      if (!options.yes) {
        if (!process.stdin.isTTY) {
          throw new CliError(
            EXIT.usage,
            `refusing to delete TURN key ${printable(id)} without confirmation: stdin is not a terminal; pass --yes`,
          );
        }
        if (!(await confirm(`Delete TURN key ${printable(id)}? [y/N] `))) {
          throw new CliError(EXIT.usage, "not deleted");
        }
      }
      await call(prepareDeleteKey(config, id), processDeleteKey, id);
      if (options.json) json({ uid: id, deleted: true });
      else out(`Deleted TURN key ${printable(id)}.\n`);
      return EXIT.ok;
    }
    case "revoke-credential": {
      const [username] = expectArgs(command, args, ["username"]);
      await call(prepareRevokeCredential(turnKeyConfig(), username), processRevokeCredential);
      if (options.json) json({ username, revoked: true });
      else out(`Revoked TURN credential ${printable(username)}.\n`);
      return EXIT.ok;
    }
    case "usage": {
      expectArgs(command, args, []);
      const complete = await usageCommand(options, out);
      return complete ? EXIT.ok : EXIT.network;
    }
    default:
      throw usageError(`unknown command "${printable(command)}"`);
  }
}

async function main(argv: string[]): Promise<number> {
  const parse = () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: "boolean", default: false },
        yes: { type: "boolean", short: "y", default: false },
        "by-user": { type: "boolean", default: false },
        "revoke-over-quota": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (error) {
    throw usageError(error instanceof Error ? error.message : "bad arguments");
  }
  const [command, ...args] = parsed.positionals;
  if (parsed.values.help || command === "help") {
    out(HELP);
    return EXIT.ok;
  }
  if (command === undefined) throw usageError("no command given");
  loadDotEnv();
  return run(command, args, {
    json: parsed.values.json,
    yes: parsed.values.yes,
    byUser: parsed.values["by-user"],
    revokeOverQuota: parsed.values["revoke-over-quota"],
  });
}

function exitCodeOf(error: unknown): { code: number; message: string } {
  if (error instanceof CliError) return { code: error.exitCode, message: error.message };
  if (error instanceof CloudflareApiError) return { code: API_EXIT[error.code], message: error.message };
  // The server's configuration and reading errors: their messages name variables, never values.
  if (error instanceof ServiceError) {
    const config = error.code === "invalid_config" || error.code === "not_configured";
    return { code: config ? EXIT.config : error.code === "upstream_unauthorized" ? EXIT.auth : EXIT.network, message: error.message };
  }
  // An unexpected failure is a bug: say what it was, but only its message.
  return { code: EXIT.api, message: `unexpected error: ${error instanceof Error ? error.message : String(error)}` };
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  const { code, message } = exitCodeOf(error);
  const lines = redact(message)
    .split("\n")
    .map((line) => printable(line));
  process.stderr.write(`turn-keys: ${lines.join("\n")}\n`);
  process.exitCode = code;
}
