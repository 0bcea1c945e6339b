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

  /** The selected pair's local relay address of `pc`, or undefined. */
  async function localAddress(pc) {
    return (await selectedPair(pc))?.local.address;
  }

  /**
   * A relay-only call that outlives its credentials: each side fetches its own, runs keepFresh
   * with `restartIce`, and negotiates perfectly; `a` sends a numbered message every `intervalMs`
   * for `durationMs`, and `b` notes when each arrives. The probe never calls restartIce itself.
   */
  async function longCall({ ttl, restartIce, durationMs, intervalMs = 100, minRefreshMs = 1_000, openMs = 10_000 }) {
    const { getIceServers, keepFresh } = await client();
    const usernameOf = (servers) => servers.find((server) => server.username)?.username;
    const initial = await Promise.all([getIceServers({ ttl }), getIceServers({ ttl })]);
    const [a, b] = initial.map((servers) => new RTCPeerConnection({ ...servers.config, iceTransportPolicy: "relay" }));
    const log = { offers: [], negotiationErrors: [], candidateErrors: [], events: [] };
    const { negotiatePerfectly } = await negotiation();
    negotiatePerfectly(a, b, {
      onError: (side, error) => log.negotiationErrors.push(`${side}: ${error}`),
      // A new ufrag is an ICE restart.
      onOffer: (side, ufrag) => log.offers.push({ side, at: Date.now(), ufrag }),
    });
    for (const [pc, side] of [
      [a, "a"],
      [b, "b"],
    ]) {
      pc.addEventListener("icecandidateerror", ({ url, errorCode, errorText }) => {
        log.candidateErrors.push({ side, url, code: errorCode, text: errorText });
      });
    }

    const arrivals = [];
    b.addEventListener("datachannel", ({ channel }) => {
      channel.addEventListener("message", ({ data }) => arrivals.push({ seq: Number(data), ms: performance.now() }));
    });
    const channel = a.createDataChannel("long call");
    const opened = await within(new Promise((resolve) => channel.addEventListener("open", () => resolve(true), { once: true })), openMs);

    const stops = [
      [a, "a", initial[0]],
      [b, "b", initial[1]],
    ].map(([pc, side, first]) =>
      keepFresh(pc, {
        ttl,
        initial: first,
        restartIce,
        minRefreshMs,
        onRefresh: (fresh) => log.events.push({ side, kind: "refresh", at: Date.now(), username: usernameOf(fresh.config.iceServers) }),
        onRestart: ({ fresh }) => log.events.push({ side, kind: "restart", at: Date.now(), username: usernameOf(fresh.config.iceServers) }),
        onError: (error) => log.events.push({ side, kind: "error", at: Date.now(), code: error.code, message: error.message }),
      }),
    );

    const addresses = { a: [], b: [] };
    const noteAddresses = async () => {
      for (const [pc, side] of [
        [a, "a"],
        [b, "b"],
      ]) {
        const address = await localAddress(pc);
        if (address && addresses[side].at(-1) !== address) addresses[side].push(address);
      }
    };
    let sent = 0;
    const startedMs = performance.now();
    try {
      if (opened) {
        await noteAddresses();
        while (performance.now() - startedMs < durationMs) {
          if (channel.readyState === "open") channel.send(String(sent++));
          if (sent % 5 === 0) await noteAddresses();
          await sleep(intervalMs);
        }
        // The last messages still in flight, boundedly.
        const deadline = performance.now() + 5_000;
        while (arrivals.length < sent && performance.now() < deadline) await sleep(50);
        await noteAddresses();
      }
      const endedMs = performance.now();
      const times = [startedMs, ...arrivals.map((arrival) => arrival.ms), endedMs];
      let maxGapMs = 0;
      for (let i = 1; i < times.length; i++) maxGapMs = Math.max(maxGapMs, times[i] - times[i - 1]);
      return {
        opened: opened === true,
        initialUsernames: initial.map((servers) => usernameOf(servers.config.iceServers)),
        sent,
        received: arrivals.length,
        inOrder: arrivals.every((arrival, index) => arrival.seq === index),
        maxGapMs: Math.round(maxGapMs),
        durationMs: Math.round(endedMs - startedMs),
        addresses,
        ...log,
      };
    } finally {
      for (const stop of stops) await stop();
      a.close();
      b.close();
    }
  }

  window.e2e = { relay, keepFreshRestart, longCall };
})();
