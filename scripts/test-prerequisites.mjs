// Run by `npm test` before anything else: the Redis and end-to-end suites start real system
// programs, which `npm ci` cannot provide. As root with apt-get (a fresh Debian box, CI) the
// missing ones are installed; otherwise this stops at once naming them, never skipping silently.
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

const skipE2e = process.env.SKIP_E2E === "1";

// Paths as the test helpers use them: test/helpers/redis.ts (REDIS_SERVER, else PATH),
// test/helpers/coturn.ts, test/helpers/janus.ts and test/helpers/browsers.ts (fixed Debian paths).
const needs = [
  { program: process.env.REDIS_SERVER || "redis-server", pkg: "redis-server", why: "the Redis rate-limit suite", service: "redis-server" },
  ...(skipE2e
    ? []
    : [
        { program: "/usr/bin/turnserver", pkg: "coturn", why: "the end-to-end suite", service: "coturn", e2e: true },
        { program: "/usr/bin/chromium", pkg: "chromium", why: "the end-to-end suite", e2e: true },
        { program: "/usr/bin/firefox-esr", pkg: "firefox-esr", why: "the end-to-end suite", e2e: true },
        { program: "/usr/bin/janus", pkg: "janus", why: "the Janus suite", service: "janus", e2e: true },
      ]),
];

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function found(program) {
  if (program.includes("/")) return executable(program);
  return (process.env.PATH ?? "").split(delimiter).some((dir) => dir && executable(join(dir, program)));
}

const missing = () => needs.filter((need) => !found(need.program));

function fail(list) {
  const names = list.map((need) => need.pkg).join(" ");
  const lines = [`npm test needs programs that are not installed: ${list.map((need) => need.program).join(", ")}.`];
  lines.push(`Install Debian's packages first:  sudo apt-get install ${names}`);
  if (process.env.REDIS_SERVER && list.some((need) => need.pkg === "redis-server")) {
    lines.push(`(REDIS_SERVER=${process.env.REDIS_SERVER} is not an executable file: fix or unset it.)`);
  }
  if (list.some((need) => need.e2e)) lines.push("Or run without the end-to-end (browser) suite:  SKIP_E2E=1 npm test");
  console.error(lines.join("\n"));
  process.exit(1);
}

// apt-get's output is long; it is kept and shown only if a step fails.
function run(args) {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const result = spawnSync(args[0], args.slice(1), { env, encoding: "utf8", maxBuffer: 64 << 20 });
  if (result.status !== 0) {
    console.error(`${args.join(" ")} failed:\n${result.stdout ?? ""}${result.stderr ?? ""}${result.error?.message ?? ""}`);
    process.exit(1);
  }
}

const before = missing();
if (before.length === 0) process.exit(0);
// A REDIS_SERVER set to a path of its own is not something the package would provide.
const fixable =
  process.getuid?.() === 0 && found("apt-get") && !(process.env.REDIS_SERVER && before.some((need) => need.pkg === "redis-server"));
if (!fixable) fail(before);

const packages = [...new Set(before.map((need) => need.pkg))];
const reasons = [...new Set(before.map((need) => need.why))].join(" and ");
console.error(`Installing Debian's ${packages.join(", ")} with apt-get, for ${reasons}...`);
run(["apt-get", "update", "-qq"]);
run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...packages]);
// The packages start their own services on install; each test starts its own on a free port.
for (const need of before) {
  if (need.service) spawnSync("service", [need.service, "stop"], { stdio: "ignore" });
}
// Should the packages not provide the programs after all, say so here rather than in the tests.
const after = missing();
if (after.length > 0) fail(after);
