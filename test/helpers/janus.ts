/**
 * A real Janus (Debian's `janus`, 1.1.2) on 127.0.0.1, configured in a folder of its own: the
 * HTTP transport and the echotest plugin only (each folder Janus loads from holds just the one
 * library), and the TURN REST API settings under test. Its log is at level 5 (verbose), where
 * Janus says whether it got credentials from the TURN REST API.
 */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, spawnLogged, waitForHttp, type Spawned } from "./process.ts";

export const JANUS = "/usr/bin/janus";
const LIBRARIES = "/usr/lib/x86_64-linux-gnu/janus";

export interface JanusTurnRest {
  url: string;
  key: string;
  method: "GET" | "POST";
}

export interface Janus {
  /** The Janus API over HTTP: POST a request to a path under it. */
  readonly api: string;
  output(): string;
  stop(): Promise<void>;
}

/** A folder holding a link to one library of Janus's, as the folder Janus loads that kind from. */
function folderWith(dir: string, name: string, library?: string): string {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  if (library) symlinkSync(join(LIBRARIES, name, library), join(folder, library));
  return folder;
}

export async function startJanus(dir: string, turnRest: JanusTurnRest): Promise<Janus> {
  const port = await freePort();
  const configs = folderWith(dir, "configs");
  const plugins = folderWith(dir, "plugins", "libjanus_echotest.so");
  const transports = folderWith(dir, "transports", "libjanus_http.so");
  const events = folderWith(dir, "events");
  const loggers = folderWith(dir, "loggers");
  const rtp = 20_000 + Math.floor(Math.random() * 40) * 250;
  writeFileSync(
    join(configs, "janus.jcfg"),
    `general: {
  configs_folder = "${configs}"
  plugins_folder = "${plugins}"
  transports_folder = "${transports}"
  events_folder = "${events}"
  loggers_folder = "${loggers}"
  debug_level = 5
  session_timeout = 60
}
media: {
  rtp_port_range = "${rtp}-${rtp + 249}"
}
nat: {
  turn_rest_api = "${turnRest.url}"
  turn_rest_api_key = "${turnRest.key}"
  turn_rest_api_method = "${turnRest.method}"
  turn_rest_api_timeout = 10
  ice_ignore_list = "vmnet"
}
`,
  );
  writeFileSync(
    join(configs, "janus.transport.http.jcfg"),
    `general: {
  json = "compact"
  base_path = "/janus"
  http = true
  port = ${port}
  ip = "127.0.0.1"
  https = false
}
admin: {
  admin_http = false
}
`,
  );
  writeFileSync(join(configs, "janus.plugin.echotest.jcfg"), "general: {\n}\n");
  const spawned: Spawned = spawnLogged(JANUS, ["-F", configs, "-o"], { PATH: process.env.PATH }, dir);
  const api = `http://127.0.0.1:${port}/janus`;
  await waitForHttp(`${api}/info`, 30_000, spawned);
  return { api, output: () => spawned.output(), stop: () => spawned.stop() };
}
