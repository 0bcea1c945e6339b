// The self-test page's script: plain ESM, no build step. See index.html.
import { getIceServers } from "./turn-client.js";

/** How long one URL's message may take to arrive. */
const MESSAGE_WAIT_MS = 10_000;

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

/** "udp", "tcp" or "tls" for a TURN URL; "stun" for a STUN one. */
function transportOf(url) {
  const lower = url.toLowerCase();
  if (lower.startsWith("stun")) return "stun";
  if (lower.startsWith("turns:")) return "tls";
  return /[?&]transport=tcp(&|$)/.test(lower) ? "tcp" : "udp";
}

const asList = (urls) => (Array.isArray(urls) ? urls : [urls]);

/**
 * One test per TURN URL, with that URL's credentials. Relay-only ICE never uses STUN, so STUN
 * URLs are left out; so are the transports not asked for with ?transport=.
 */
function turnUrls(iceServers, transports) {
  return iceServers.flatMap((server) =>
    asList(server.urls)
      .filter((url) => transportOf(url) !== "stun" && (!transports || transports.includes(transportOf(url))))
      .map((url) => ({ url, username: server.username, credential: server.credential })),
  );
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Resolves to the promise's value, or to undefined after `ms`. */
const within = (promise, ms) => Promise.race([promise, sleep(ms).then(() => undefined)]);

function show(id, text) {
  $(id).textContent = text;
}

function setVerdict(state, summary) {
  const result = $("result");
  result.dataset.state = state;
  result.textContent = state === "running" ? "RUNNING" : state.toUpperCase();
  show("summary", summary);
}

function renderRows(rows) {
  $("url-rows").replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement("tr");
      const cells = [
        [row.url],
        [row.transport],
        [row.relays.size > 0 ? [...row.relays].join(", ") : row.done ? "none" : "…", row.relays.size > 0 ? "ok" : row.done ? "bad" : ""],
        [row.arrivedMs !== undefined ? `arrived in ${row.arrivedMs} ms` : row.done ? "no message" : "…", row.arrivedMs !== undefined ? "ok" : row.done ? "bad" : ""],
        [row.pair ?? "–"],
        [[...row.errors].join("; ") || "–"],
      ];
      for (const [text, className] of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        if (className) td.className = className;
        tr.append(td);
      }
      tr.dataset.relay = String(row.relays.size > 0);
      tr.dataset.arrived = String(row.arrivedMs !== undefined);
      return tr;
    }),
  );
}

/** The candidate pair ICE selected, from getStats(), as "relay ⇄ relay over udp". */
async function selectedPair(pc) {
  const stats = await pc.getStats();
  let pair;
  stats.forEach((report) => {
    if (report.type === "transport" && report.selectedCandidatePairId) pair = stats.get(report.selectedCandidatePairId);
  });
  // Firefox has no transport report; it marks the pair itself.
  stats.forEach((report) => {
    if (!pair && report.type === "candidate-pair" && report.selected) pair = report;
  });
  if (!pair) return undefined;
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  return {
    relayed: local?.candidateType === "relay" && remote?.candidateType === "relay",
    text: `${local?.candidateType} ⇄ ${remote?.candidateType}${local?.relayProtocol ? ` over ${local.relayProtocol}` : ""}`,
  };
}

function gathered(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && resolve());
  });
}

/** Two relay-only peer connections through one TURN URL; fills in `row`. */
async function testUrl(row, server, onChange) {
  const started = performance.now();
  const config = { iceServers: [server], iceTransportPolicy: "relay" };
  const a = new RTCPeerConnection(config);
  const b = new RTCPeerConnection(config);
  try {
    for (const [pc, other] of [
      [a, b],
      [b, a],
    ]) {
      pc.addEventListener("icecandidate", ({ candidate }) => {
        if (!candidate) return;
        other.addIceCandidate(candidate).catch(() => {});
        if (candidate.type === "relay") {
          row.relays.add(`${candidate.address}:${candidate.port}`);
          onChange();
        }
      });
      pc.addEventListener("icecandidateerror", ({ errorCode, errorText }) => {
        row.errors.add(`${errorCode} ${errorText ?? ""}`.trim());
        onChange();
      });
    }

    const text = `hello through TURN ${Math.random().toString(36).slice(2)}`;
    const arrived = new Promise((resolve) => {
      b.addEventListener("datachannel", ({ channel }) => {
        channel.addEventListener("message", ({ data }) => data === text && resolve(performance.now()));
      });
    });
    const channel = a.createDataChannel("selftest");
    channel.addEventListener("open", () => channel.send(text));

    await a.setLocalDescription();
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription();
    await a.setRemoteDescription(b.localDescription);

    // Once both have gathered with no relay candidate, no message can come: stop waiting.
    const hopeless = Promise.all([gathered(a), gathered(b)]).then(() => (row.relays.size > 0 ? new Promise(() => {}) : undefined));
    const arrivedAt = await within(Promise.race([arrived, hopeless]), MESSAGE_WAIT_MS);
    if (arrivedAt !== undefined) {
      row.arrivedMs = Math.round(arrivedAt - started);
      const pair = await selectedPair(a);
      row.pair = pair?.text;
      row.relayed = pair?.relayed === true;
    }
  } finally {
    row.done = true;
    a.close();
    b.close();
    onChange();
  }
}

function explainFailure(rows) {
  const errors = rows.flatMap((row) => [...row.errors]);
  if (rows.every((row) => row.relays.size === 0)) {
    if (errors.some((error) => error.startsWith("401"))) {
      return "The TURN server refused the credentials (401): check the shared secret or the provider's key, and that the server's clock is right.";
    }
    return "No URL gave a relay candidate: the TURN server is unreachable from here, or its ports are blocked.";
  }
  return `Relay candidates were gathered, but no message arrived within ${MESSAGE_WAIT_MS / 1000} s: the TURN server may refuse the peers' addresses (coturn: denied-peer-ip, allow-loopback-peers).`;
}

async function run() {
  const button = $("run");
  button.disabled = true;
  setVerdict("running", "Testing…");
  for (const id of ["provider", "ttl", "message", "elapsed"]) show(id, "–");
  $("url-rows").replaceChildren();

  const started = performance.now();
  const transports = params.get("transport")?.toLowerCase().split(",").map((t) => t.trim()).filter(Boolean);
  const ttl = params.has("ttl") ? Number(params.get("ttl")) : undefined;
  const rows = [];
  try {
    const servers = await getIceServers(ttl === undefined ? {} : { ttl });
    show("provider", servers.provider + (servers.degraded ? " (degraded: every provider failed, STUN only)" : ""));
    show("ttl", `${servers.ttl} s, until ${servers.expiresAt.toISOString()}`);

    const targets = turnUrls(servers.config.iceServers, transports);
    if (targets.length === 0) {
      throw new Error(
        servers.provider === "none"
          ? "The server handed out STUN only, no TURN: configure a TURN provider."
          : `No TURN URL to test${transports ? ` for transport ${transports.join(", ")}` : ""}.`,
      );
    }
    for (const { url } of targets) rows.push({ url, transport: transportOf(url), relays: new Set(), errors: new Set(), done: false });
    const refresh = () => renderRows(rows);
    refresh();

    await Promise.all(targets.map((server, index) => testUrl(rows[index], server, refresh)));

    const passed = rows.filter((row) => row.arrivedMs !== undefined && row.relayed);
    show("message", `arrived through ${passed.length} of ${rows.length} TURN URL${rows.length === 1 ? "" : "s"}`);
    show("elapsed", `${Math.round(performance.now() - started)} ms in all`);

    if (passed.length === rows.length) {
      setVerdict("pass", `Data went through the TURN relay on every URL (${rows.length}), relay to relay.`);
    } else if (passed.length > 0) {
      const transportsOk = [...new Set(passed.map((row) => row.transport))].join(", ");
      setVerdict("pass", `Data went through the TURN relay over ${transportsOk}, but ${rows.length - passed.length} of ${rows.length} URLs failed: see the table.`);
    } else if (rows.some((row) => row.arrivedMs !== undefined)) {
      setVerdict("fail", "Messages arrived, but not over a relay/relay candidate pair.");
    } else {
      setVerdict("fail", explainFailure(rows));
    }
  } catch (error) {
    show("elapsed", `${Math.round(performance.now() - started)} ms in all`);
    const code = error?.name === "IceServersError" ? `${error.code}${error.status ? ` (HTTP ${error.status})` : ""}: ` : "";
    setVerdict("fail", `${code}${error?.message ?? error}`);
  } finally {
    button.disabled = false;
  }
}

$("run").addEventListener("click", run);
run();
