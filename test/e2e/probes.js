// Runs inside Chromium, in a page of the origin `npm start` serves; injected by test/e2e.test.ts.
// It uses the browser client (/turn-client.js), the self-test page's negotiation (/negotiate.js) and real RTCPeerConnections, and returns plain
// facts (candidates, errors, getStats' selected pair, whether data arrived) for the test to judge.

(() => {
  const client = () => import("/turn-client.js");
  // The self-test page's own perfect negotiation, so the tests prove what the page runs.
  const negotiation = () => import("/negotiate.js");
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const within = (promise, ms) => Promise.race([promise, sleep(ms).then(() => undefined)]);
  const asList = (urls) => (Array.isArray(urls) ? urls : [urls]);

  function transportOf(url) {
    if (url.startsWith("stun")) return "stun";
    if (url.startsWith("turns:")) return "tls";
    return /[?&]transport=tcp(&|$)/.test(url) ? "tcp" : "udp";
  }

  /** The TURN URLs of `transport` only (all TURN URLs when it is undefined). */
  function restrict(iceServers, transport) {
    return iceServers
      .map((server) => ({
        ...server,
        urls: asList(server.urls).filter((url) => transportOf(url) !== "stun" && (!transport || transportOf(url) === transport)),
      }))
      .filter((server) => server.urls.length > 0);
  }

  async function selectedPair(pc) {
    const stats = await pc.getStats();
    let pair;
    stats.forEach((report) => {
      if (report.type === "transport" && report.selectedCandidatePairId) pair = stats.get(report.selectedCandidatePairId);
    });
    if (!pair) return undefined;
    const local = stats.get(pair.localCandidateId);
    const remote = stats.get(pair.remoteCandidateId);
    return {
      state: pair.state,
      local: { type: local?.candidateType, protocol: local?.relayProtocol, url: local?.url, address: `${local?.address}:${local?.port}` },
      remote: { type: remote?.candidateType, address: `${remote?.address}:${remote?.port}` },
    };
  }

  /** The relay candidates `pc` gathered, with the TURN URL and transport each came from (getStats). */
  async function relayCandidates(pc, side) {
    const stats = await pc.getStats();
    const relays = [];
    stats.forEach((report) => {
      if (report.type === "local-candidate" && report.candidateType === "relay") {
        relays.push({ side, url: report.url, protocol: report.relayProtocol, address: `${report.address}:${report.port}` });
      }
    });
    return relays;
  }

  /** Two relay-only peer connections in this page, trickling to each other, with a data channel. */
  function makePair(iceServers) {
    const config = { iceServers, iceTransportPolicy: "relay" };
    const a = new RTCPeerConnection(config);
    const b = new RTCPeerConnection(config);
    const log = { relays: [], errors: [] };
    const started = performance.now();
    for (const [pc, other, side] of [
      [a, b, "a"],
      [b, a, "b"],
    ]) {
      pc.addEventListener("icecandidate", ({ candidate }) => {
        if (!candidate) return;
        other.addIceCandidate(candidate).catch(() => {});
        if (candidate.type === "relay") {
          log.relays.push({ side, address: `${candidate.address}:${candidate.port}`, ms: Math.round(performance.now() - started) });
        }
      });
      pc.addEventListener("icecandidateerror", ({ url, errorCode, errorText }) => {
        log.errors.push({ side, url, code: errorCode, text: errorText, ms: Math.round(performance.now() - started) });
      });
    }
    const inbox = [];
    const waiters = [];
    b.addEventListener("datachannel", ({ channel }) => {
      channel.addEventListener("message", ({ data }) => {
        inbox.push(data);
        for (const waiter of waiters.splice(0)) waiter();
      });
    });
    const channel = a.createDataChannel("e2e");
    const opened = new Promise((resolve) => channel.addEventListener("open", resolve, { once: true }));

    async function negotiate() {
      await a.setLocalDescription();
      await b.setRemoteDescription(a.localDescription);
      await b.setLocalDescription();
      await a.setRemoteDescription(b.localDescription);
    }
    /** Sends `text` once the channel is open; resolves to whether it arrived within `ms`. */
    async function roundTrip(text, ms) {
      const deadline = performance.now() + ms;
      if (
        (await within(
          opened.then(() => true),
          ms,
        )) !== true
      )
        return false;
      channel.send(text);
      while (!inbox.includes(text)) {
        const left = deadline - performance.now();
        if (left <= 0) return false;
        await within(new Promise((resolve) => waiters.push(resolve)), left);
      }
      return true;
    }
    const close = () => {
      a.close();
      b.close();
    };
    return { a, b, log, negotiate, roundTrip, close, started };
  }

  /**
   * Fetches ICE servers from the service, optionally waits (to let them expire), keeps the TURN
   * URLs of one transport, and tries to send one message between two relay-only connections.
   */
  async function relay({ transport, ttl, delayMs = 0, waitMs = 10_000 }) {
    const { getIceServers } = await client();
    const servers = await getIceServers(ttl === undefined ? {} : { ttl });
    if (delayMs > 0) await sleep(delayMs);
    const iceServers = restrict(servers.config.iceServers, transport);
    const pair = makePair(iceServers);
    try {
      await pair.negotiate();
      const arrived = await pair.roundTrip("hello through TURN", waitMs);
      const elapsedMs = Math.round(performance.now() - pair.started);
      return {
        provider: servers.provider,
        ttl: servers.ttl,
        urls: iceServers.flatMap((server) => asList(server.urls)),
        usernames: iceServers.map((server) => server.username),
        arrived,
        elapsedMs,
        iceConnectionState: pair.a.iceConnectionState,
        selected: await selectedPair(pair.a),
        relays: [...(await relayCandidates(pair.a, "a")), ...(await relayCandidates(pair.b, "b"))],
        errors: pair.log.errors,
      };
    } finally {
      pair.close();
    }
  }

  /**
   * keepFresh with a short TTL: two pairs connect with the same first credentials; only "fresh"
   * runs keepFresh. Once those first credentials have expired, both pairs restart ICE. The fresh
   * pair must gather new relay candidates and move to them; the control pair, still on the
   * expired credentials, is refused new allocations.
   */
  async function keepFreshRestart({ ttl, waitMs = 10_000 }) {
    const { getIceServers, keepFresh } = await client();
    const initial = await getIceServers({ ttl });
    const initialExpiry = initial.expiresAt.getTime();
    const usernameOf = (servers) => servers.find((server) => server.username)?.username;
    const iceServers = restrict(initial.config.iceServers, undefined);
    const fresh = makePair(iceServers);
    const control = makePair(iceServers);
    const refreshes = [];
    const failures = [];
    const stops = [fresh.a, fresh.b].map((pc) =>
      keepFresh(pc, {
        ttl,
        initial,
        // This probe restarts ICE by hand, after the expiry; seconds-long TTLs need a lower floor.
        restartIce: "never",
        minRefreshMs: 1_000,
        onRefresh: (result) =>
          refreshes.push({ at: Date.now(), username: usernameOf(result.config.iceServers), expiresAt: result.expiresAt.getTime() }),
        onError: (error) => failures.push(`${error.code}: ${error.message}`),
      }),
    );
    try {
      await Promise.all([fresh.negotiate(), control.negotiate()]);
      const firstArrived = await Promise.all([fresh.roundTrip("one", waitMs), control.roundTrip("one", waitMs)]);
      const before = { fresh: await selectedPair(fresh.a), control: await selectedPair(control.a) };

      // Past the first credentials' expiry (coturn checks the expiry in the username, in seconds).
      while (Date.now() < initialExpiry + 1_500) await sleep(100);
      const expiredAt = Date.now();

      const mark = {
        fresh: fresh.log.relays.length,
        freshErrors: fresh.log.errors.length,
        control: control.log.relays.length,
        controlErrors: control.log.errors.length,
      };
      for (const pair of [fresh, control]) pair.a.restartIce();
      await Promise.all([fresh.negotiate(), control.negotiate()]);

      // The fresh pair must move to a relay candidate gathered after the restart.
      const deadline = performance.now() + waitMs;
      let after;
      for (;;) {
        after = await selectedPair(fresh.a);
        const newRelays = fresh.log.relays
          .slice(mark.fresh)
          .filter((relay) => relay.side === "a")
          .map((relay) => relay.address);
        if (after && after.local.type === "relay" && after.remote.type === "relay" && newRelays.includes(after.local.address)) break;
        if (performance.now() > deadline) break;
        await sleep(100);
      }
      const secondArrived = await fresh.roundTrip("two", waitMs);

      // The control pair: wait until its restart gathered (or was refused), boundedly.
      const controlDeadline = performance.now() + 5_000;
      while (performance.now() < controlDeadline) {
        const refused = control.log.errors.length > mark.controlErrors;
        if (refused && control.a.iceGatheringState === "complete" && control.b.iceGatheringState === "complete") break;
        await sleep(100);
      }
      const controlAfter = await selectedPair(control.a);

      return {
        ttl,
        initial: { username: usernameOf(iceServers), expiresAt: initialExpiry, fetchedAt: initial.fetchedAt.getTime() },
        refreshes,
        failures,
        appliedUsernames: [fresh.a, fresh.b].map((pc) => usernameOf(pc.getConfiguration().iceServers ?? [])),
        firstArrived,
        expiredAt,
        fresh: {
          before: before.fresh,
          after,
          newRelays: fresh.log.relays.slice(mark.fresh),
          errorsAfterRestart: fresh.log.errors.slice(mark.freshErrors),
          secondArrived,
        },
        control: {
          before: before.control,
          after: controlAfter,
          newRelays: control.log.relays.slice(mark.control),
          errorsAfterRestart: control.log.errors.slice(mark.controlErrors),
        },
      };
    } finally {
      for (const stop of stops) await stop();
      fresh.close();
      control.close();
    }
  }

  /**
   * The selected pair's local candidate of `pc`, with the ICE generation (ufrag) it was gathered
   * in: getStats' usernameFragment where the engine reports it, else the ufrag of the icecandidate
   * event that announced its address (`announced`: address:port → ufrag).
   */
  async function selectedLocal(pc, announced) {
    const stats = await pc.getStats();
    const all = [...stats.values()];
    // Chromium names the pair on its transport; Firefox marks it selected (it has no transport stats).
    const pair =
      all
        .filter((report) => report.type === "transport" && report.selectedCandidatePairId)
        .map((report) => stats.get(report.selectedCandidatePairId))[0] ??
      all.find((report) => report.type === "candidate-pair" && report.selected === true);
    const local = pair && stats.get(pair.localCandidateId);
    if (!local) return undefined;
    const address = `${local.address}:${local.port}`;
    return { address, type: local.candidateType, ufrag: local.usernameFragment ?? announced.get(address) };
  }

  /**
   * A relay-only call between two peer connections of this page, each with its own credentials
   * kept fresh by keepFresh (`restartIce`, `keepFreshOptions`), negotiating perfectly. `a` sends a
   * numbered message every `intervalMs` for `durationMs`; `b` notes when each arrives. Every
   * `sampleMs` each side's selected local candidate is sampled with its ICE generation and the
   * side's current local ufrag; the last sample is taken once both sides are on their current
   * generation, or `settleMs` after the end. The probe never restarts ICE itself.
   *
   * Started by startCall, watched with callState (the selected relays, for a test to kill), and
   * ended by endCall, which resolves to the facts; times are Date.now(), the test's clock too.
   */
  function startCall({
    ttl,
    restartIce,
    durationMs,
    intervalMs = 100,
    sampleMs = 250,
    settleMs = 4_000,
    openMs = 10_000,
    keepFreshOptions = {},
  }) {
    const state = { opened: false, selected: {} };
    const run = async () => {
      const { getIceServers, keepFresh } = await client();
      const { negotiatePerfectly, ufragOf } = await negotiation();
      const usernameOf = (servers) => servers.find((server) => server.username)?.username;
      const initial = await Promise.all([getIceServers({ ttl }), getIceServers({ ttl })]);
      const [a, b] = initial.map((servers) => new RTCPeerConnection({ ...servers.config, iceTransportPolicy: "relay" }));
      const sides = [
        { pc: a, side: "a", first: initial[0], announced: new Map() },
        { pc: b, side: "b", first: initial[1], announced: new Map() },
      ];
      const log = { offers: [], negotiationErrors: [], candidateErrors: [], events: [], samples: [], generations: [] };
      negotiatePerfectly(a, b, {
        onError: (side, error) => log.negotiationErrors.push(`${side}: ${error}`),
        onOffer: (side, ufrag) => log.offers.push({ side, at: Date.now(), ufrag }),
      });
      const noteGeneration = ({ pc, side }) => {
        const ufrag = ufragOf(pc.localDescription?.sdp);
        if (ufrag && !log.generations.some((known) => known.side === side && known.ufrag === ufrag))
          log.generations.push({ side, ufrag, at: Date.now() });
      };
      for (const entry of sides) {
        const { pc, side, announced } = entry;
        pc.addEventListener("icecandidate", ({ candidate }) => {
          if (candidate?.address) announced.set(`${candidate.address}:${candidate.port}`, candidate.usernameFragment);
        });
        pc.addEventListener("icecandidateerror", ({ url, errorCode, errorText }) => {
          log.candidateErrors.push({ side, at: Date.now(), url, code: errorCode, text: errorText });
        });
        pc.addEventListener("signalingstatechange", () => noteGeneration(entry));
        pc.addEventListener("connectionstatechange", () =>
          log.events.push({ side, kind: "state", at: Date.now(), state: pc.connectionState ?? pc.iceConnectionState }),
        );
      }

      const arrivals = [];
      b.addEventListener("datachannel", ({ channel }) => {
        channel.addEventListener("message", ({ data }) => arrivals.push({ seq: Number(data), at: Date.now() }));
      });
      const channel = a.createDataChannel("long call");
      const opened = await within(new Promise((resolve) => channel.addEventListener("open", () => resolve(true), { once: true })), openMs);
      state.opened = opened === true;

      const stops = sides.map(({ pc, side, first }) =>
        keepFresh(pc, {
          ttl,
          initial: first,
          restartIce,
          minRefreshMs: 1_000,
          ...keepFreshOptions,
          onRefresh: (fresh) => {
            const event = {
              side,
              kind: "refresh",
              at: Date.now(),
              username: usernameOf(fresh.config.iceServers),
              signaling: pc.signalingState,
            };
            log.events.push(event);
            // What keepFresh's own check for a relay sees at this moment (a restart may be settling).
            selectedLocal(pc, sides.find((entry) => entry.pc === pc).announced).then(
              (selected) => (event.selected = selected ?? null),
              () => {},
            );
          },
          onRestart: (restart) =>
            log.events.push({
              side,
              kind: "restart",
              at: Date.now(),
              reason: restart?.reason,
              username: usernameOf(restart?.fresh?.config.iceServers ?? []),
            }),
          onError: (error, details) =>
            log.events.push({
              side,
              kind: "error",
              at: Date.now(),
              code: error.code,
              message: error.message,
              retryInMs: details?.retryInMs,
            }),
        }),
      );

      const sample = async () => {
        for (const entry of sides) {
          noteGeneration(entry);
          const selected = await selectedLocal(entry.pc, entry.announced).catch(() => undefined);
          state.selected[entry.side] = selected;
          log.samples.push({
            side: entry.side,
            at: Date.now(),
            current: ufragOf(entry.pc.localDescription?.sdp),
            signaling: entry.pc.signalingState,
            ice: entry.pc.iceConnectionState,
            selected,
          });
        }
      };
      const sends = [];
      const startedAt = Date.now();
      let nextSample = 0;
      try {
        if (state.opened) {
          while (Date.now() - startedAt < durationMs) {
            if (channel.readyState === "open") {
              sends.push(Date.now());
              channel.send(String(sends.length - 1));
            }
            if (Date.now() >= nextSample) {
              nextSample = Date.now() + sampleMs;
              await sample();
            }
            await sleep(intervalMs);
          }
          // The last messages still in flight, boundedly.
          const deadline = Date.now() + 5_000;
          while (arrivals.length < sends.length && Date.now() < deadline) await sleep(50);
          // The end: once a restart under way has had `settleMs` to move both sides (the last sample is judged).
          const settled = Date.now() + settleMs;
          do {
            await sleep(sampleMs);
            await sample();
          } while (
            Date.now() < settled &&
            !log.samples.slice(-2).every((entry) => entry.selected?.ufrag && entry.selected.ufrag === entry.current)
          );
        }
        return {
          opened: state.opened,
          startedAt,
          endedAt: Date.now(),
          initialUsernames: initial.map((servers) => usernameOf(servers.config.iceServers)),
          sends,
          arrivals,
          final: { a: a.connectionState ?? a.iceConnectionState, b: b.connectionState ?? b.iceConnectionState },
          ...log,
        };
      } finally {
        for (const stop of stops) await stop();
        a.close();
        b.close();
      }
    };
    state.result = run().catch((error) => ({ crashed: `${error?.name}: ${error?.message}\n${error?.stack}` }));
    window.e2eCall = state;
    return true;
  }

  /** The running call's selected local candidates, per side. */
  const callState = () => ({ opened: window.e2eCall.opened, selected: window.e2eCall.selected });

  const endCall = () => window.e2eCall.result;

  window.e2e = { relay, keepFreshRestart, startCall, callState, endCall };
})();
