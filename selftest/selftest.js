// The self-test page's script: plain ESM, no build step. See index.html.
import { followGenerations, negotiatePerfectly, selectedCandidates } from "./negotiate.js";
import { getIceServers, keepFresh } from "./turn-client.js";

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
        [
          row.arrivedMs !== undefined ? `arrived in ${row.arrivedMs} ms` : row.done ? "no message" : "…",
          row.arrivedMs !== undefined ? "ok" : row.done ? "bad" : "",
        ],
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

/** The selected pair, as "relay ⇄ relay over udp". */
async function selectedPair(pc) {
  const { local, remote } = (await selectedCandidates(pc)) ?? {};
  if (!local && !remote) return undefined;
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
  const transports = params
    .get("transport")
    ?.toLowerCase()
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
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
      setVerdict(
        "pass",
        `Data went through the TURN relay over ${transportsOk}, but ${rows.length - passed.length} of ${rows.length} URLs failed: see the table.`,
      );
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

// --- The long-call check: a relay-only call across several short lifetimes. ---

const LONG_CALL_TTL_S = 10;
const LONG_CALL_LIFETIMES = 3;
const LONG_CALL_SEND_MS = 250;
const LONG_CALL_MAX_GAP_MS = 2_000;
/**
 * How long a side may send from a relay of an earlier ICE generation: a restart's new pair takes
 * a moment to be selected, and keepFresh checks each side 2 s after it settled and restarts again.
 */
const LONG_CALL_MAX_STALE_MS = 6_000;
const SIDE_NAMES = { a: "caller", b: "callee" };
const RESTART_REASONS = {
  refresh: "fresh servers",
  stale_generation: "still on an earlier generation's relay",
  failed: "ICE failed",
  disconnected: "ICE disconnected",
};

function setLongVerdict(state, summary) {
  const result = $("long-result");
  result.dataset.state = state;
  result.textContent = state === "running" ? "RUNNING" : state.toUpperCase();
  show("long-summary", summary);
}

/** The selected pair's local relay address ("ip:port"), or undefined. */
async function relayedAddress(pc) {
  const local = (await selectedCandidates(pc))?.local;
  if (!local || (local.candidateType !== "relay" && local.candidateType !== "relayed")) return undefined;
  return `${local.address ?? local.ip}:${local.port}`;
}

async function longCall() {
  const button = $("long-run");
  button.disabled = true;
  setLongVerdict("running", "Calling…");
  for (const id of ["long-ttl", "long-data", "long-addresses", "long-generations"]) show(id, "–");
  $("long-events").replaceChildren();

  const ttl = params.has("long-ttl") ? Number(params.get("long-ttl")) : LONG_CALL_TTL_S;
  const durationMs = ttl * 1000 * LONG_CALL_LIFETIMES;
  const started = performance.now();
  const counts = { a: { refresh: 0, restart: 0 }, b: { refresh: 0, restart: 0 } };
  const addresses = { a: [], b: [] };
  /** Per side: when it was first seen on an earlier generation (undefined while current), and the longest such stretch. */
  const stale = { a: { since: undefined, longestMs: 0 }, b: { since: undefined, longestMs: 0 } };
  const generation = {};
  const problems = [];
  const note = (side, text) => {
    const li = document.createElement("li");
    li.dataset.side = side;
    li.textContent = `${((performance.now() - started) / 1000).toFixed(1)} s, ${side === "a" ? "caller" : "callee"}: ${text}`;
    $("long-events").append(li);
  };
  const stops = [];
  const pcs = [];
  try {
    const initial = await Promise.all([getIceServers({ ttl }), getIceServers({ ttl })]);
    show("long-ttl", `${initial[0].ttl} s, ${LONG_CALL_LIFETIMES} lifetimes: ${Math.round(durationMs / 1000)} s`);
    if (turnUrls(initial[0].config.iceServers).length === 0)
      throw new Error("The server handed out no TURN URL: configure a TURN provider.");
    const [a, b] = initial.map((servers) => new RTCPeerConnection({ ...servers.config, iceTransportPolicy: "relay" }));
    pcs.push(a, b);
    const generations = { a: followGenerations(a), b: followGenerations(b) };
    negotiatePerfectly(a, b, { onError: (_, error) => problems.push(`negotiation: ${error?.message ?? error}`) });

    const arrivals = [];
    b.addEventListener("datachannel", ({ channel }) => {
      channel.addEventListener("message", ({ data }) => arrivals.push({ seq: Number(data), at: performance.now() }));
    });
    const channel = a.createDataChannel("long call");
    const opened = await within(
      new Promise((resolve) => channel.addEventListener("open", () => resolve(true), { once: true })),
      MESSAGE_WAIT_MS,
    );
    if (!opened)
      throw new Error(`The call did not connect through the relay within ${MESSAGE_WAIT_MS / 1000} s: run the check above first.`);

    for (const [pc, side, first] of [
      [a, "a", initial[0]],
      [b, "b", initial[1]],
    ]) {
      stops.push(
        keepFresh(pc, {
          ttl,
          initial: first,
          restartIce: "relayed",
          // A diagnostic may ask for lifetimes of a few seconds: refresh them in time all the same.
          minRefreshMs: 1_000,
          onRefresh: (fresh) => {
            counts[side].refresh += 1;
            note(side, `fresh credentials, ${fresh.ttl} s`);
          },
          onRestart: ({ reason }) => {
            counts[side].restart += 1;
            note(side, `${RESTART_REASONS[reason] ?? reason}: ICE restart`);
          },
          onError: (error) => {
            problems.push(`${side === "a" ? "caller" : "callee"}: ${error.code}`);
            note(side, `error ${error.code}: ${error.message}`);
          },
        }),
      );
    }

    const watch = async () => {
      for (const [pc, side] of [
        [a, "a"],
        [b, "b"],
      ]) {
        const address = await relayedAddress(pc);
        if (!address || addresses[side].at(-1) === address) continue;
        if (addresses[side].length > 0) note(side, `relayed address ${addresses[side].at(-1)} → ${address}`);
        addresses[side].push(address);
      }
      show("long-addresses", `caller ${addresses.a.join(" → ") || "–"}; callee ${addresses.b.join(" → ") || "–"}`);
      // Each side on its own: after an ICE restart, one side can keep its previous generation's relay.
      for (const [side, follower] of Object.entries(generations)) {
        generation[side] = await follower.check();
        const now = performance.now();
        if (generation[side].current) stale[side].since = undefined;
        else stale[side].since ??= now;
        if (stale[side].since !== undefined) stale[side].longestMs = Math.max(stale[side].longestMs, now - stale[side].since);
      }
      show(
        "long-generations",
        Object.entries(generation)
          .map(([side, g]) => `${SIDE_NAMES[side]} ${g.current ? "current" : `earlier (${g.generation ?? "?"}, current ${g.ufrag})`}`)
          .join("; "),
      );
    };
    let sent = 0;
    const callStarted = performance.now();
    await watch();
    while (performance.now() - callStarted < durationMs) {
      if (channel.readyState === "open") channel.send(String(sent++));
      if (sent % 4 === 0) await watch();
      show("long-data", `${arrivals.length} of ${sent} arrived`);
      await sleep(LONG_CALL_SEND_MS);
    }
    const deadline = performance.now() + MESSAGE_WAIT_MS;
    while (arrivals.length < sent && performance.now() < deadline) await sleep(50);
    await watch();
    // The last refresh's restart may still be settling: give each side the time keepFresh needs.
    const settled = performance.now() + LONG_CALL_MAX_STALE_MS;
    while (!(generation.a.current && generation.b.current) && performance.now() < settled) {
      await sleep(500);
      await watch();
    }
    const unmoved = ["a", "b"].filter((side) => addresses[side].length < 2);
    const behind = ["a", "b"].filter((side) => !generation[side].current || stale[side].longestMs > LONG_CALL_MAX_STALE_MS);

    const times = [callStarted, ...arrivals.map((arrival) => arrival.at), performance.now()];
    let maxGapMs = 0;
    for (let i = 1; i < times.length; i++) maxGapMs = Math.max(maxGapMs, times[i] - times[i - 1]);
    const inOrder = arrivals.every((arrival, index) => arrival.seq === index);
    show(
      "long-data",
      `${arrivals.length} of ${sent} arrived${inOrder ? ", in order" : ", out of order"}; longest gap ${Math.round(maxGapMs)} ms`,
    );

    const restarts = counts.a.restart + counts.b.restart;
    if (problems.length > 0) setLongVerdict("fail", `Errors during the call: ${problems.join("; ")}.`);
    else if (counts.a.refresh === 0 || counts.b.refresh === 0)
      setLongVerdict("fail", "The credentials were not refreshed during the call.");
    else if (restarts === 0)
      setLongVerdict(
        "fail",
        "No ICE restart followed the refreshes (this browser may lack pc.restartIce()): relays in use stayed on the first credentials.",
      );
    else if (unmoved.length > 0)
      setLongVerdict(
        "fail",
        `ICE restarted, but the ${unmoved.map((side) => SIDE_NAMES[side]).join(" and the ")}'s relayed address never changed: it stayed on its first relay.`,
      );
    else if (behind.length > 0)
      setLongVerdict(
        "fail",
        `The ${behind.map((side) => SIDE_NAMES[side]).join(" and the ")} sent from a relay of an earlier ICE generation for ${Math.round(
          Math.max(...behind.map((side) => stale[side].longestMs)),
        )} ms${behind.some((side) => !generation[side].current) ? ", and still did at the end" : ""}: its relay's credentials expire under it.`,
      );
    else if (arrivals.length < sent || !inOrder) setLongVerdict("fail", `Messages were lost: ${arrivals.length} of ${sent} arrived.`);
    else if (maxGapMs >= LONG_CALL_MAX_GAP_MS) setLongVerdict("fail", `Data stopped for ${Math.round(maxGapMs)} ms during the call.`);
    else {
      setLongVerdict(
        "pass",
        `The call outlived its credentials: ${counts.a.refresh + counts.b.refresh} refreshes, ${restarts} ICE restarts, each side moved to relays of its current ICE generation, and data never stopped.`,
      );
    }
  } catch (error) {
    const code = error?.name === "IceServersError" ? `${error.code}${error.status ? ` (HTTP ${error.status})` : ""}: ` : "";
    setLongVerdict("fail", `${code}${error?.message ?? error}`);
  } finally {
    for (const stop of stops) await stop();
    for (const pc of pcs) pc.close();
    button.disabled = false;
  }
}

$("run").addEventListener("click", run);
$("long-run").addEventListener("click", longCall);
run().then(() => params.has("long-call") && longCall());
