#!/usr/bin/env -S npx tsx
/**
 * turn-probe: does TURN work? Fetches credentials from a deployed endpoint as a browser would,
 * then checks every URL of the answer over its own transport (cli/stun/check.ts) and reports
 * which work. For a terminal, a cron job or CI: see docs/probe.md.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import * as v from "valibot";
import { MAX_UPSTREAM_BODY_BYTES, readCapped, UpstreamBodyTooLarge } from "../shared/upstream/capped-body.ts";
import { printable, printableDeep } from "./printable.ts";
import { checkIceUrl, type UrlCheck } from "./stun/check.ts";

const EXIT = { ok: 0, failed: 1, endpoint: 2 } as const;
const ENDPOINT_TIMEOUT_MS = 15_000;
const DEFAULT_TIMEOUT_MS = 5_000;
// An answer with more URLs than this is not one a browser should be handed either.
const MAX_URLS = 32;

const HELP = `Usage: turn-probe <endpoint-url> [options]

Fetches ICE servers from the endpoint (GET, as a browser does), then checks each URL:
stun: with a Binding request, turn:/turns: over UDP, TCP and TLS with an Allocate using the
credential it was given (released at once). Prints one line per URL.

Options:
  --json                  Print the result as JSON on stdout
  --ttl <seconds>         Ask for this TTL (?ttl=N)
  --header "Name: value"  Send this header with the GET (repeatable), e.g. Authorization or Origin
  --timeout <ms>          Bound for each URL, default ${DEFAULT_TIMEOUT_MS}
  --ca <file>             Also trust this PEM certificate authority for turns: (NODE_EXTRA_CA_CERTS works too)
  --help, -h              Show this help

Exit codes:
  0  every URL answered and every TURN URL allocated
  1  a URL failed, or the answer holds no TURN URL
  2  the endpoint failed (non-2xx, not ICE servers, unreachable), or a usage error

See docs/probe.md.
`;

class ProbeExit extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

interface Options {
  endpoint: URL;
  json: boolean;
  headers: [string, string][];
  timeoutMs: number;
  ca?: string;
}

function usage(message: string): never {
  throw new ProbeExit(EXIT.endpoint, `${message}\nRun turn-probe --help for usage.`, "usage");
}

function parseOptions(argv: string[]): Options | "help" {
  const parse = () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: "boolean" },
        ttl: { type: "string" },
        header: { type: "string", multiple: true },
        timeout: { type: "string" },
        ca: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (error) {
    usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  if (positionals.length !== 1) usage("give exactly one endpoint URL, such as https://example.com/api/ice-servers");
  if (!URL.canParse(positionals[0]) || !/^https?:$/.test(new URL(positionals[0]).protocol)) usage("the endpoint must be an http(s) URL");
  const endpoint = new URL(positionals[0]);
  if (values.ttl !== undefined) {
    if (!/^\d{1,9}$/.test(values.ttl) || Number(values.ttl) < 1) usage("--ttl must be a whole number of seconds, 1 or more");
    endpoint.searchParams.set("ttl", values.ttl);
  }
  const headers = (values.header ?? []).map((line): [string, string] => {
    const colon = line.indexOf(":");
    if (colon < 1) usage(`--header must look like "Name: value"`);
    return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
  });
  const timeoutMs = values.timeout === undefined ? DEFAULT_TIMEOUT_MS : Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 120_000)
    usage("--timeout must be a whole number of milliseconds from 100 to 120000");
  let ca: string | undefined;
  if (values.ca !== undefined) {
    try {
      ca = readFileSync(values.ca, "utf8");
    } catch {
      usage("--ca names a file that cannot be read");
    }
  }
  return { endpoint, json: values.json ?? false, headers, timeoutMs, ca };
}

const IceServers = v.object({
  iceServers: v.array(
    v.object({
      urls: v.union([v.string(), v.array(v.string())]),
      username: v.optional(v.string()),
      credential: v.optional(v.string()),
    }),
  ),
  provider: v.optional(v.string()),
});
type IceAnswer = v.InferOutput<typeof IceServers>;

/** The endpoint as shown: without a user and password, should the URL carry any. */
function shownEndpoint(endpoint: URL): string {
  const shown = new URL(endpoint);
  shown.username = "";
  shown.password = "";
  return shown.href;
}

async function fetchIceServers(options: Options): Promise<IceAnswer> {
  let response: Response;
  try {
    // Redirects followed as a browser follows them (fetch drops Authorization on a cross-origin one).
    response = await fetch(options.endpoint, { headers: options.headers, signal: AbortSignal.timeout(ENDPOINT_TIMEOUT_MS) });
  } catch (error) {
    const timedOut = (error as Error)?.name === "TimeoutError";
    throw new ProbeExit(
      EXIT.endpoint,
      timedOut ? "the endpoint did not answer in time" : "the endpoint could not be reached",
      timedOut ? "timeout" : "unreachable",
    );
  }
  let text: string;
  try {
    // The service's own cap on what it reads from a provider: far above any real answer.
    text = await readCapped(response, MAX_UPSTREAM_BODY_BYTES);
  } catch (error) {
    if (error instanceof UpstreamBodyTooLarge)
      throw new ProbeExit(
        EXIT.endpoint,
        `the endpoint's answer is over ${MAX_UPSTREAM_BODY_BYTES} bytes: not ICE servers`,
        "invalid_response",
      );
    text = "";
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    // The service's own error code and message are shown (they never carry a secret), made printable.
    const error = v.safeParse(v.object({ error: v.object({ code: v.string(), message: v.optional(v.string()) }) }), body);
    const code = error.success ? printable(error.output.error.code) : `http_${response.status}`;
    const message = error.success && error.output.error.message ? `: ${printable(error.output.error.message)}` : "";
    throw new ProbeExit(EXIT.endpoint, `the endpoint answered ${response.status} ${code}${message}`, code);
  }
  const parsed = v.safeParse(IceServers, body);
  if (!parsed.success)
    throw new ProbeExit(EXIT.endpoint, 'the endpoint\'s answer is not ICE servers ({"iceServers": [...]})', "invalid_response");
  return parsed.output;
}

interface ProbeReport {
  endpoint: string;
  provider?: string;
  results: UrlCheck[];
}

async function probe(options: Options): Promise<ProbeReport> {
  const answer = await fetchIceServers(options);
  const targets = answer.iceServers.flatMap((server) =>
    (typeof server.urls === "string" ? [server.urls] : server.urls).map((url) => ({
      url,
      username: server.username,
      credential: server.credential,
    })),
  );
  if (targets.length > MAX_URLS)
    throw new ProbeExit(EXIT.endpoint, `the answer holds ${targets.length} URLs, more than the ${MAX_URLS} probed`, "invalid_response");
  // All at once: each is bounded by the same per-URL timeout, so the whole run is too.
  const results = await Promise.all(
    targets.map((target) => checkIceUrl(target.url, target, { timeoutMs: options.timeoutMs, ca: options.ca })),
  );
  return { endpoint: shownEndpoint(options.endpoint), provider: answer.provider, results };
}

const isTurn = (result: UrlCheck) => /^turns?:/i.test(result.url);

function exitCodeOf(report: ProbeReport): number {
  const allOk = report.results.every((result) => result.ok);
  return allOk && report.results.some(isTurn) ? EXIT.ok : EXIT.failed;
}

function table(report: ProbeReport): string {
  const rows = report.results.map((result) => [
    result.url,
    result.transport,
    result.ok ? "ok" : `FAIL ${result.error}`,
    `${result.rttMs} ms`,
    result.ok
      ? result.relayedAddress
        ? `relayed ${result.relayedAddress}`
        : `mapped ${result.mappedAddress ?? "?"}`
      : (result.detail ?? ""),
  ]);
  const header = ["URL", "TRANSPORT", "RESULT", "RTT", "DETAIL"];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]))).join("  ");
  const failed = report.results.filter((result) => !result.ok).length;
  const summary =
    report.results.some(isTurn) || failed > 0
      ? `${report.results.length - failed} of ${report.results.length} URL(s) ok`
      : "no TURN URL in the answer: nothing relays";
  return [`Endpoint: ${report.endpoint}`, `Provider: ${report.provider ?? "?"}`, "", line(header), ...rows.map(line), "", summary, ""].join(
    "\n",
  );
}

/** Runs the CLI; resolves with the exit code, never calls process.exit (so a leaked socket would show). */
async function main(argv: string[], out = process.stdout, err = process.stderr): Promise<number> {
  let options: Options | "help" | undefined;
  try {
    options = parseOptions(argv);
    if (options === "help") {
      out.write(HELP);
      return EXIT.ok;
    }
    // Every string of the report that came from the network (URLs, provider, STUN reason phrases, TLS errors), made printable.
    const report = printableDeep(await probe(options));
    out.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : table(report));
    return exitCodeOf(report);
  } catch (error) {
    if (!(error instanceof ProbeExit)) throw error;
    if (typeof options === "object" && options.json && error.code !== "usage") {
      out.write(
        `${JSON.stringify({ endpoint: shownEndpoint(options.endpoint), error: { code: error.code, message: error.message } }, null, 2)}\n`,
      );
    } else {
      err.write(`turn-probe: ${error.message}\n`);
    }
    return error.exitCode;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // A bug: its kind only, since a message could quote the answer.
  process.stderr.write(`turn-probe: unexpected error (${(error as Error)?.name ?? typeof error})\n`);
  process.exitCode = EXIT.failed;
}
