// Perfect negotiation and the per-side ICE generation check, shared by the self-test page's long
// call and the end-to-end tests, so that what the tests prove is what the page runs.

/** The ICE ufrag of a session description: a new one is an ICE restart. */
export const ufragOf = (sdp) => /^a=ice-ufrag:(.*)$/m.exec(sdp ?? "")?.[1]?.trim();

/**
 * Perfect negotiation (W3C WebRTC §10.7) between two peer connections of one page, over an
 * asynchronous in-order channel as an app would run it over a WebSocket: `a` ("a") is
 * impolite, `b` ("b") polite. keepFresh's pc.restartIce() reaches the other side only through
 * this. `onError(side, error)` hears every failure; `onOffer(side, ufrag)` every offer made.
 */
export function negotiatePerfectly(a, b, { onError, onOffer = () => {} }) {
  const peers = [
    { pc: a, side: "a", polite: false },
    { pc: b, side: "b", polite: true },
  ];
  for (const [self, other] of [
    [peers[0], peers[1]],
    [peers[1], peers[0]],
  ]) {
    const { pc, side, polite } = self;
    let makingOffer = false;
    let ignoreOffer = false;
    let inbox = Promise.resolve();
    const send = (message) => setTimeout(() => other.receive(message), 0);
    pc.addEventListener("negotiationneeded", async () => {
      try {
        makingOffer = true;
        await pc.setLocalDescription();
        if (pc.localDescription.type === "offer") onOffer(side, ufragOf(pc.localDescription.sdp));
        send({ description: pc.localDescription.toJSON() });
      } catch (error) {
        onError(side, error);
      } finally {
        makingOffer = false;
      }
    });
    pc.addEventListener("icecandidate", ({ candidate }) => candidate && send({ candidate: candidate.toJSON() }));
    async function receive({ description, candidate }) {
      try {
        if (description) {
          const collision = description.type === "offer" && (makingOffer || pc.signalingState !== "stable");
          ignoreOffer = !polite && collision;
          if (ignoreOffer) return;
          await pc.setRemoteDescription(description);
          if (description.type === "offer") {
            await pc.setLocalDescription();
            send({ description: pc.localDescription.toJSON() });
          }
        } else if (candidate) {
          try {
            await pc.addIceCandidate(candidate);
          } catch (error) {
            // After a glare, candidates of the offer that lost can still be on their way.
            const stale = candidate.usernameFragment && candidate.usernameFragment !== ufragOf(pc.remoteDescription?.sdp);
            if (!ignoreOffer && !stale) throw error;
          }
        }
      } catch (error) {
        onError(side, error);
      }
    }
    self.receive = (message) => {
      inbox = inbox.then(() => receive(message));
    };
  }
}

/** The local and remote candidates of the pair ICE selected, from getStats(), or undefined. */
export async function selectedCandidates(pc) {
  const stats = await pc.getStats();
  let pair;
  stats.forEach((report) => {
    if (report.type === "transport" && report.selectedCandidatePairId) pair = stats.get(report.selectedCandidatePairId);
  });
  // Firefox has no transport report; it marks the pair itself.
  stats.forEach((report) => {
    if (!pair && report.type === "candidate-pair" && report.selected) pair = report;
  });
  return pair && { local: stats.get(pair.localCandidateId), remote: stats.get(pair.remoteCandidateId) };
}

/**
 * Follows one side's ICE generations from the moment `pc` is made. `check()` says whether the
 * selected pair's local candidate belongs to the side's current generation (the ufrag of its local
 * description): by the candidate's `usernameFragment` in getStats(), or, where the engine does not
 * report it, by the ufrag its address was gathered under. After an ICE restart a side can keep
 * sending from its previous generation's relay, so each side is checked on its own.
 */
export function followGenerations(pc) {
  /** "address:port" → the ufrag it was gathered under. */
  const gathered = new Map();
  pc.addEventListener("icecandidate", ({ candidate }) => {
    if (!candidate?.address) return;
    gathered.set(`${candidate.address}:${candidate.port}`, candidate.usernameFragment || ufragOf(pc.localDescription?.sdp));
  });
  return {
    async check() {
      const ufrag = ufragOf(pc.localDescription?.sdp);
      const local = (await selectedCandidates(pc))?.local;
      if (!local) return { ufrag, current: false };
      const address = `${local.address ?? local.ip}:${local.port}`;
      const generation = local.usernameFragment || gathered.get(address);
      return { ufrag, generation, current: generation !== undefined && generation === ufrag, type: local.candidateType, address };
    },
  };
}
