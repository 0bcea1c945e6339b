// One peer connection kept on a source's servers: applying them, restarting ICE for them,
// checking that this side really moved to the new ICE generation, and recovering from failure.
import { IceServersError } from "./ice-servers-error.js";
import { backoff } from "./schedule.js";

/** Browsers without `connectionState` (Firefox before 113) have only `iceConnectionState`. */
const FROM_ICE_STATE = {
  new: "new",
  checking: "connecting",
  connected: "connected",
  completed: "connected",
  disconnected: "disconnected",
  failed: "failed",
  closed: "closed",
};

export function connectionStateOf(pc) {
  if (typeof pc.connectionState === "string") return pc.connectionState;
  return FROM_ICE_STATE[pc.iceConnectionState] ?? "new";
}

export const isClosed = (pc) => connectionStateOf(pc) === "closed" || pc.signalingState === "closed";

/** The ICE ufrag of a session description: a new one is a new ICE generation. */
export const ufragOf = (sdp) => /^a=ice-ufrag:(.*)$/m.exec(sdp ?? "")?.[1]?.trim();

const isRelay = (candidate) => candidate?.candidateType === "relay" || candidate?.candidateType === "relayed";

/**
 * The candidate pairs ICE selected, from a getStats() report: the transports'
 * `selectedCandidatePairId` (Chrome, Safari), else the pairs marked `selected` (Firefox), else
 * the nominated pairs that succeeded.
 */
export function selectedPairs(stats) {
  const all = [];
  stats.forEach((report) => {
    all.push(report);
  });
  const byTransport = all
    .filter((report) => report.type === "transport" && report.selectedCandidatePairId)
    .map((report) => stats.get(report.selectedCandidatePairId))
    .filter(Boolean);
  if (byTransport.length > 0) return byTransport;
  const pairs = all.filter((report) => report.type === "candidate-pair");
  const marked = pairs.filter((pair) => pair.selected === true);
  if (marked.length > 0) return marked;
  return pairs.filter((pair) => pair.nominated === true && pair.state === "succeeded");
}

const relayOnly = (pc) => pc.getConfiguration().iceTransportPolicy === "relay";

/**
 * Whether a selected pair's local candidate is a TURN relay ("relayed" in older Firefox); undefined
 * when no pair is selected, as in Firefox for a moment after an ICE restart.
 */
async function usesRelay(pc) {
  if (typeof pc.getStats !== "function") return false;
  const stats = await pc.getStats();
  const pairs = selectedPairs(stats);
  if (pairs.length === 0) return undefined;
  return pairs.some((pair) => isRelay(stats.get(pair.localCandidateId)));
}

/** Whether `pc` cannot do without TURN: relay-only, or relayed right now. */
export async function needsTurn(pc) {
  if (relayOnly(pc)) return true;
  try {
    return (await usesRelay(pc)) === true;
  } catch {
    return false;
  }
}

// setConfiguration errors that the same servers would meet again: the answer itself or the
// connection's configuration is wrong, not the moment.
const PERMANENT_REFUSALS = new Set(["InvalidModificationError", "InvalidAccessError", "SyntaxError", "TypeError"]);

/** Where a relay candidate can be recognised in getStats() when the engine gives no ufrag. */
const addressOf = (candidate) => `${candidate.address ?? candidate.ip}:${candidate.port}`;

/**
 * Watches `pc` for a source (see ice-source.js); `ctx` is the source's side: its options, its
 * current answer, `refreshNow()` to fetch at once, `report`, `onRestart`, and `closed(handle)` /
 * `refused(handle)` to let go of this connection.
 */
export function watchConnection(pc, ctx) {
  const { restartIce: mode, disconnectedGraceMs, verifyAfterMs, maxStaleRestarts, maxRecoveries, minRetryMs, maxRetryMs } = ctx.options;
  const canRestart = mode !== "never" && typeof pc.restartIce === "function";
  let disposed = false;

  /** Servers applied and not yet restarted for (a refresh restart waits for connected and stable). */
  let pendingRefresh;
  /** How many answers were applied, and the latest of them a generation of this side was gathered under. */
  let applied = 0;
  let covered = 0;
  /** `applied` when the negotiation under way began. */
  let negotiationStartedAt;
  let knownUfrag = pc.signalingState === "stable" ? ufragOf(pc.localDescription?.sdp) : undefined;
  /** Restarted by this side, the new generation not seen yet. */
  let restartedHere = false;
  /** The generation to check once it has settled, and the check's timer. */
  let verifying;
  let verifyTimer;
  /** Restarts for a stale generation since the last answer was applied: bounded per refresh. */
  let staleRestarts = 0;
  /** Local relay "address:port" → the ufrag it was gathered under, for engines whose stats lack it. */
  const gathered = new Map();
  let graceTimer;
  /** { reason, attempts, timer, waitingForServers, whenStable, gaveUp } while recovering. */
  let recovery;
  /** An answer setConfiguration refused for now, retried until it expires. */
  let applyRetry;

  /** When signalling last left `stable`: the start of the latest negotiation's gathering. */
  let negotiatedAt = -Infinity;
  let spacingTimer;
  // A restart before the previous negotiation's new generation has connected (still gathering, or
  // checking) leaves nothing to fall back on in Firefox, which releases its old relays as soon as
  // a restart's new ones are allocated: ICE fails at once and the data channels close. So a restart waits RESTART_SPACING_MS
  // after the previous negotiation began, and for its gathering to end, though not for ever (a
  // TURN URL that never answers keeps it going).
  const gathering = () => pc.iceGatheringState === "gathering" && Date.now() - negotiatedAt < MAX_GATHERING_WAIT_MS;
  function canRestartNow() {
    if (pc.signalingState !== "stable" || gathering()) return false;
    const wait = negotiatedAt + RESTART_SPACING_MS - Date.now();
    if (wait <= 0) return true;
    if (spacingTimer === undefined) {
      spacingTimer = setTimeout(() => {
        spacingTimer = undefined;
        onEvent();
      }, wait);
    }
    return false;
  }
  const connected = () => !disposed && connectionStateOf(pc) === "connected" && pc.signalingState === "stable";
  const ready = () => connected() && canRestartNow();
  const spread = ctx.spread;

  function restart(reason) {
    try {
      pc.restartIce();
    } catch (error) {
      ctx.report(new IceServersError("restart_failed", "pc.restartIce() refused to restart ICE", { cause: error }), {
        attempt: 0,
        retryInMs: undefined,
      });
      return;
    }
    restartedHere = true;
    ctx.onRestart({ fresh: ctx.current(), mode, reason, pc });
  }

  // --- Applying servers --------------------------------------------------------------------

  function apply(answer) {
    clearTimeout(applyRetry?.timer);
    applyRetry = undefined;
    tryApply(answer, 1);
  }

  function tryApply(answer, attempt) {
    if (disposed) return;
    try {
      pc.setConfiguration({ ...pc.getConfiguration(), iceServers: answer.config.iceServers });
    } catch (error) {
      if (isClosed(pc)) return ctx.closed(handle);
      const refused = new IceServersError("apply_failed", "setConfiguration refused the new ICE servers", { cause: error });
      if (PERMANENT_REFUSALS.has(error?.name)) {
        ctx.report(refused, { attempt, retryInMs: undefined });
        return ctx.refused(handle);
      }
      // The same answer is tried again, not a new one fetched: each fetch mints a credential.
      const delay = backoff(attempt, { base: minRetryMs, max: maxRetryMs, spread });
      const alive = Date.now() + delay < ctx.expiresAtMs(answer);
      ctx.report(refused, { attempt, retryInMs: alive ? delay : undefined });
      if (alive) applyRetry = { timer: setTimeout(() => tryApply(answer, attempt + 1), delay) };
      return;
    }
    applyRetry = undefined;
    applied += 1;
    staleRestarts = 0;
    pendingRefresh = answer;
    if (recovery?.waitingForServers) recoveryRestart();
    else restartForRefresh();
  }

  // New iceServers only mark the next offer as an ICE restart; a relay in use keeps refreshing its
  // allocation under the old credential until then. restartIce() fires negotiationneeded, and the
  // app's negotiation gathers new relays under the fresh credentials.
  async function restartForRefresh() {
    const fresh = pendingRefresh;
    if (!fresh || !canRestart || recovery || !ready()) return;
    pendingRefresh = undefined;
    if (mode === "relayed" && !relayOnly(pc)) {
      let relayed = false;
      try {
        relayed = await usesRelay(pc);
      } catch {}
      // No pair selected yet: ask again on the next event or poll.
      if (relayed === undefined || !ready()) {
        pendingRefresh ??= fresh;
        return;
      }
      if (!relayed) return;
    }
    restart("refresh");
  }

  // --- Generations -------------------------------------------------------------------------

  // A new local ufrag once signalling is stable is a new ICE generation of this side, gathered
  // under the servers applied when its negotiation began: the peer's restart that this side
  // answered re-gathers it as surely as its own.
  function observeNegotiation() {
    if (pc.signalingState !== "stable") {
      if (negotiationStartedAt === undefined) negotiatedAt = Date.now();
      negotiationStartedAt ??= applied;
      return;
    }
    const startedAt = negotiationStartedAt ?? applied;
    negotiationStartedAt = undefined;
    const ufrag = ufragOf(pc.localDescription?.sdp);
    if (!ufrag || ufrag === knownUfrag) return;
    // The first generation seen is checked by no one (it is what the call connected with).
    const first = knownUfrag === undefined;
    knownUfrag = ufrag;
    const fresh = startedAt > covered;
    if (fresh) covered = startedAt;
    // Answering the peer's restart already re-gathered this side under the latest servers.
    if (covered === applied) pendingRefresh = undefined;
    if (!first && (fresh || restartedHere)) {
      clearTimeout(verifyTimer);
      verifyTimer = undefined;
      verifying = { ufrag };
    }
    restartedHere = false;
  }

  function onCandidate(event) {
    const candidate = event?.candidate;
    if (candidate?.type !== "relay") return;
    const ufrag = candidate.usernameFragment ?? ufragOf(pc.localDescription?.sdp);
    if (ufrag) gathered.set(addressOf(candidate), ufrag);
  }

  // libwebrtc can keep its selected pair on the previous generation's relay after a restart: old
  // candidates are pruned, not removed, and a peer-reflexive pair can outrank the new relays.
  function verifyWhenSettled() {
    if (!verifying || verifyTimer || !connected() || ufragOf(pc.localDescription?.sdp) !== verifying.ufrag) return;
    verifyTimer = setTimeout(verify, verifyAfterMs);
  }

  async function verify() {
    verifyTimer = undefined;
    const target = verifying;
    if (!target || !connected() || ufragOf(pc.localDescription?.sdp) !== target.ufrag) return;
    let stale;
    try {
      stale = await staleSelection(target.ufrag);
    } catch {
      stale = false;
    }
    if (disposed || verifying !== target) return;
    // No pair selected yet (Firefox, a moment after a restart): look again a little later.
    if (stale === undefined) {
      verifyTimer = setTimeout(verify, verifyAfterMs);
      return;
    }
    verifying = undefined;
    if (!stale) return;
    if (staleRestarts >= maxStaleRestarts) {
      ctx.report(
        new IceServersError(
          "restart_incomplete",
          `after ${staleRestarts} more ICE restart(s), this side still sends from a relay of an earlier ICE generation`,
        ),
        { attempt: staleRestarts, retryInMs: undefined },
      );
      return;
    }
    staleRestarts += 1;
    restart("stale_generation");
  }

  /**
   * Whether a selected pair's local candidate is of another generation than `ufrag` (a candidate
   * of unknown generation counts as current); undefined while no pair is selected.
   */
  async function staleSelection(ufrag) {
    if (typeof pc.getStats !== "function") return false;
    const stats = await pc.getStats();
    const pairs = selectedPairs(stats);
    if (pairs.length === 0) return undefined;
    return pairs.some((pair) => {
      const local = stats.get(pair.localCandidateId);
      if (!local || (mode === "relayed" && !isRelay(local))) return false;
      if (local.usernameFragment) return local.usernameFragment !== ufrag;
      if (!isRelay(local)) return false;
      // A relay not among those this generation gathered (while keepFresh watched it) is older.
      const generation = gathered.get(addressOf(local));
      return generation === undefined ? [...gathered.values()].includes(ufrag) : generation !== ufrag;
    });
  }

  // --- Recovery ----------------------------------------------------------------------------

  function onState() {
    const state = connectionStateOf(pc);
    if (state === "connected") {
      clearTimeout(graceTimer);
      graceTimer = undefined;
      if (recovery) {
        clearTimeout(recovery.timer);
        recovery = undefined;
      }
    } else if (state === "failed") {
      startRecovery("failed");
    } else if (state === "disconnected" && graceTimer === undefined && !recovery) {
      graceTimer = setTimeout(() => {
        graceTimer = undefined;
        if (!disposed && connectionStateOf(pc) === "disconnected") startRecovery("disconnected");
      }, disconnectedGraceMs);
    }
  }

  function startRecovery(reason) {
    clearTimeout(graceTimer);
    graceTimer = undefined;
    if (recovery || !canRestart) return;
    recovery = { reason, attempts: 0 };
    attemptRecovery();
  }

  function attemptRecovery() {
    if (disposed || !recovery) return;
    if (recovery.attempts >= maxRecoveries) {
      recovery.gaveUp = true;
      ctx.report(new IceServersError("recovery_failed", `ICE is still ${connectionStateOf(pc)} after ${recovery.attempts} restart(s)`), {
        attempt: recovery.attempts,
        retryInMs: undefined,
      });
      return;
    }
    recovery.attempts += 1;
    recovery.timer = setTimeout(
      attemptRecovery,
      backoff(recovery.attempts, { base: RECOVERY_WAIT_MS, max: Math.max(maxRetryMs, RECOVERY_WAIT_MS), spread }),
    );
    // Credentials near or past their expiry would only earn 401s from the TURN server.
    recovery.waitingForServers = ctx.needsFresh() && ctx.refreshNow();
    if (!recovery.waitingForServers) recoveryRestart();
  }

  function recoveryRestart() {
    if (!recovery || recovery.gaveUp) return;
    recovery.waitingForServers = false;
    recovery.whenStable = !canRestartNow();
    if (!recovery.whenStable) restart(recovery.reason);
  }

  // --- Events ------------------------------------------------------------------------------

  function onEvent() {
    if (disposed) return;
    if (isClosed(pc)) return ctx.closed(handle);
    observeNegotiation();
    onState();
    if (recovery?.whenStable && canRestartNow()) recoveryRestart();
    restartForRefresh();
    verifyWhenSettled();
  }

  const STATE_EVENTS = ["connectionstatechange", "iceconnectionstatechange", "signalingstatechange", "icegatheringstatechange"];
  for (const type of STATE_EVENTS) pc.addEventListener?.(type, onEvent);
  pc.addEventListener?.("icecandidate", onCandidate);

  const handle = {
    pc,
    apply,
    /** The source's fetch failed: a recovery waiting for servers restarts with those it has. */
    fetchFailed() {
      if (recovery?.waitingForServers) recoveryRestart();
    },
    poll: onEvent,
    dispose() {
      if (disposed) return;
      disposed = true;
      clearTimeout(verifyTimer);
      clearTimeout(spacingTimer);
      clearTimeout(graceTimer);
      clearTimeout(recovery?.timer);
      clearTimeout(applyRetry?.timer);
      for (const type of STATE_EVENTS) pc.removeEventListener?.(type, onEvent);
      pc.removeEventListener?.("icecandidate", onCandidate);
    },
    get disposed() {
      return disposed;
    },
  };
  return handle;
}

/** The least time between the start of a negotiation and a restart keepFresh makes. */
const RESTART_SPACING_MS = 1_000;

/** The longest a restart waits for the previous negotiation's gathering to end. */
const MAX_GATHERING_WAIT_MS = 5_000;

/** The first wait for a recovery restart to connect, doubled on each attempt (up to maxRetryMs). */
const RECOVERY_WAIT_MS = 5_000;
