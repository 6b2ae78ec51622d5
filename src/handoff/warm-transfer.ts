/**
 * One warm transfer of one caller, as a pure state machine fed `(event, nowMs)`
 * (docs/handoff.md). It decides; a driver acts: it finds people through the
 * assignment module, creates and cancels their legs through the Twilio REST
 * port, answers the press-1 gather, and feeds back what Twilio reports. The
 * state is plain JSON so any process can carry it on.
 *
 * Rules it keeps:
 * - one leg at a time: a person is dialled only once the previous leg is over
 *   (or cancelled), so two people never ring at once for one caller;
 * - a person who did not accept is not rung again for the same transfer;
 * - anything but `accepted` tries the next eligible person while within
 *   `maxWaitMs` of the start, then the transfer is `unavailable` (the AI takes
 *   the caller back); nobody eligible means `unavailable` at once;
 * - the caller hanging up cancels the person's leg at once;
 * - every person taken by assignment and not accepted is released.
 */

export type TransferOutcome = 'accepted' | 'no_answer' | 'declined' | 'machine' | 'caller_hung_up' | 'failed';

export interface Candidate {
  staffId: string;
  /** E.164 number or `client:<identity>`. */
  dial: string;
}

/** What a person's leg reported (call-progress callbacks, normalised). */
export type LegStatus = 'initiated' | 'ringing' | 'answered' | 'busy' | 'no-answer' | 'failed' | 'canceled' | 'completed';

export type WarmTransferEvent =
  | { type: 'candidate'; candidate: Candidate }
  | { type: 'no_candidate' }
  | { type: 'leg_created'; attempt: number; legSid: string }
  | { type: 'leg_create_failed'; attempt: number; detail?: string }
  | { type: 'leg'; attempt: number; legSid?: string; status: LegStatus }
  /** The press-1 gather: '' when nothing was pressed. */
  | { type: 'digit'; attempt: number; digits: string }
  | { type: 'caller_hung_up' }
  /** A timer the driver set for `nextDeadline` fired. */
  | { type: 'timer' };

export type WarmTransferEffect =
  | { kind: 'find_candidate'; exclude: string[] }
  | { kind: 'dial'; attempt: number; candidate: Candidate; ringSeconds: number }
  | { kind: 'cancel_leg'; legSid: string }
  | { kind: 'release'; staffId: string }
  | { kind: 'outcome'; outcome: TransferOutcome; staffId?: string; attempt?: number; legSid?: string; detail?: string }
  /** The answer to a press-1 gather: join the caller, or end the person's leg. */
  | { kind: 'gather_reply'; attempt: number; reply: 'join' | 'hangup' }
  | { kind: 'finished'; result: WarmTransferResult; staffId?: string; legSid?: string };

export type WarmTransferResult = 'accepted' | 'unavailable' | 'caller_hung_up';

export type Phase = 'finding' | 'ringing' | 'briefing' | 'done';

export interface WarmTransferConfig {
  ringSeconds: number;
  maxWaitMs: number;
  /**
   * true (warm transfer): the person hears a brief and must press 1.
   * false (assume): answering is joining; the leg is a conference participant.
   */
  confirm: boolean;
  /** false (assume): only the first person is tried. */
  retry: boolean;
}

interface Attempt {
  attempt: number;
  staffId: string;
  legSid?: string;
  dialedAtMs: number;
  answeredAtMs?: number;
  /** A cancel was decided before the leg's SID was known: send it when it is. */
  cancelPending?: boolean;
}

export interface WarmTransferState {
  config: WarmTransferConfig;
  phase: Phase;
  startedAtMs: number;
  /** People tried (or taken) for this transfer, never rung again. */
  tried: string[];
  attempts: number;
  current?: Attempt;
  /** Legs given up on whose SID may still show up: cancel if they answer late. */
  abandoned: string[];
  result?: WarmTransferResult;
  acceptedStaffId?: string;
}

/**
 * Ringing longer than `ringSeconds` plus this without a final status means the
 * status callback was lost (Twilio adds about 5 s to the timeout itself).
 */
export const RING_GRACE_MS = 10_000;
/**
 * An answered leg whose gather never reported back: the brief (capped, see
 * handoff TwiML) plus the gather's 5 s timeout fit well inside this.
 */
export const BRIEF_MAX_MS = 90_000;

export function startWarmTransfer(config: WarmTransferConfig, nowMs: number): { state: WarmTransferState; effects: WarmTransferEffect[] } {
  const state: WarmTransferState = { config, phase: 'finding', startedAtMs: nowMs, tried: [], attempts: 0, abandoned: [] };
  return { state, effects: [{ kind: 'find_candidate', exclude: [] }] };
}

/** When the driver should feed a `timer` event next, if ever. */
export function nextDeadline(state: WarmTransferState): number | undefined {
  const c = state.current;
  if (!c) return undefined;
  const maxWaitAt = state.startedAtMs + state.config.maxWaitMs;
  if (state.phase === 'ringing') return Math.min(c.dialedAtMs + state.config.ringSeconds * 1000 + RING_GRACE_MS, maxWaitAt);
  if (state.phase === 'briefing') return (c.answeredAtMs ?? c.dialedAtMs) + BRIEF_MAX_MS;
  return undefined;
}

type Step = { state: WarmTransferState; effects: WarmTransferEffect[] };

const clone = (s: WarmTransferState): WarmTransferState => ({
  ...s,
  tried: [...s.tried],
  abandoned: [...s.abandoned],
  ...(s.current ? { current: { ...s.current } } : {}),
});

export function stepWarmTransfer(prev: WarmTransferState, event: WarmTransferEvent, nowMs: number): Step {
  const state = clone(prev);
  const effects: WarmTransferEffect[] = [];

  if (state.phase === 'done') {
    lateEvent(state, event, effects);
    return { state, effects };
  }

  switch (event.type) {
    case 'candidate': {
      if (state.phase !== 'finding') {
        // Not asked for: give the person back untouched.
        effects.push({ kind: 'release', staffId: event.candidate.staffId });
        break;
      }
      if (nowMs >= state.startedAtMs + state.config.maxWaitMs || state.tried.includes(event.candidate.staffId)) {
        effects.push({ kind: 'release', staffId: event.candidate.staffId });
        finish(state, effects, 'unavailable');
        break;
      }
      const attempt = ++state.attempts;
      state.tried.push(event.candidate.staffId);
      state.current = { attempt, staffId: event.candidate.staffId, dialedAtMs: nowMs };
      state.phase = 'ringing';
      effects.push({ kind: 'dial', attempt, candidate: event.candidate, ringSeconds: state.config.ringSeconds });
      break;
    }
    case 'no_candidate':
      if (state.phase === 'finding') finish(state, effects, 'unavailable');
      break;
    case 'leg_created': {
      const c = current(state, event.attempt);
      if (!c) {
        // A leg of an attempt given up on before its SID was known.
        effects.push({ kind: 'cancel_leg', legSid: event.legSid });
        break;
      }
      c.legSid = event.legSid;
      if (c.cancelPending) {
        c.cancelPending = false;
        effects.push({ kind: 'cancel_leg', legSid: event.legSid });
      }
      break;
    }
    case 'leg_create_failed':
      if (current(state, event.attempt)) notAccepted(state, effects, nowMs, 'failed', event.detail ?? 'create_failed');
      break;
    case 'leg':
      onLeg(state, event, effects, nowMs);
      break;
    case 'digit': {
      const c = current(state, event.attempt);
      if (!c || state.phase !== 'briefing' || !state.config.confirm) {
        effects.push({ kind: 'gather_reply', attempt: event.attempt, reply: 'hangup' });
        break;
      }
      if (event.digits === '1') {
        effects.push({ kind: 'gather_reply', attempt: c.attempt, reply: 'join' });
        accept(state, effects);
      } else {
        effects.push({ kind: 'gather_reply', attempt: c.attempt, reply: 'hangup' });
        // The reply ends the leg itself: no cancel needed.
        notAccepted(state, effects, nowMs, event.digits === '' ? 'machine' : 'declined', event.digits === '' ? 'nothing_pressed' : `pressed_${event.digits}`, false);
      }
      break;
    }
    case 'caller_hung_up': {
      const c = state.current;
      if (c) {
        cancel(state, c, effects);
        effects.push({ kind: 'release', staffId: c.staffId });
      }
      effects.push({ kind: 'outcome', outcome: 'caller_hung_up', ...attemptFields(c) });
      finish(state, effects, 'caller_hung_up');
      break;
    }
    case 'timer': {
      const due = nextDeadline(state);
      if (due === undefined || nowMs < due || !state.current) break;
      const c = state.current;
      if (state.phase === 'ringing') notAccepted(state, effects, nowMs, 'no_answer', c.dialedAtMs + state.config.ringSeconds * 1000 + RING_GRACE_MS <= nowMs ? 'ring_timeout' : 'max_wait');
      else notAccepted(state, effects, nowMs, 'failed', 'no_gather_result');
      break;
    }
  }
  return { state, effects };
}

function current(state: WarmTransferState, attempt: number): Attempt | undefined {
  return state.current?.attempt === attempt ? state.current : undefined;
}

const attemptFields = (c: Attempt | undefined) =>
  c ? { staffId: c.staffId, attempt: c.attempt, ...(c.legSid ? { legSid: c.legSid } : {}) } : {};

function onLeg(state: WarmTransferState, event: Extract<WarmTransferEvent, { type: 'leg' }>, effects: WarmTransferEffect[], nowMs: number): void {
  const c = current(state, event.attempt);
  if (!c) {
    // A leg given up on that answered after all: end it, nobody is waiting on it.
    if (event.status === 'answered' && event.legSid) effects.push({ kind: 'cancel_leg', legSid: event.legSid });
    return;
  }
  if (event.legSid && !c.legSid) {
    c.legSid = event.legSid;
    if (c.cancelPending) {
      c.cancelPending = false;
      effects.push({ kind: 'cancel_leg', legSid: event.legSid });
    }
  }
  switch (event.status) {
    case 'initiated':
    case 'ringing':
      return;
    case 'answered':
      if (state.phase !== 'ringing') return;
      c.answeredAtMs = nowMs;
      if (state.config.confirm) state.phase = 'briefing';
      else accept(state, effects);
      return;
    // A carrier may report a rejected call as busy or as no-answer: neither is accepted.
    case 'busy':
      return notAccepted(state, effects, nowMs, 'declined', 'busy', false);
    case 'no-answer':
      return notAccepted(state, effects, nowMs, 'no_answer', 'no-answer', false);
    case 'failed':
      return notAccepted(state, effects, nowMs, 'failed', 'failed', false);
    case 'canceled':
      // Only we cancel legs, and a cancelled attempt is no longer current: someone else did.
      return notAccepted(state, effects, nowMs, 'failed', 'canceled', false);
    case 'completed':
      // Over before pressing anything (hung up during the brief) or before we saw the answer.
      return notAccepted(state, effects, nowMs, 'declined', 'hung_up', false);
  }
}

function accept(state: WarmTransferState, effects: WarmTransferEffect[]): void {
  const c = state.current!;
  effects.push({ kind: 'outcome', outcome: 'accepted', ...attemptFields(c) });
  state.acceptedStaffId = c.staffId;
  state.phase = 'done';
  state.result = 'accepted';
  effects.push({ kind: 'finished', result: 'accepted', staffId: c.staffId, ...(c.legSid ? { legSid: c.legSid } : {}) });
}

/** The current person did not take the call: outcome, release, then the next person or unavailable. */
function notAccepted(
  state: WarmTransferState,
  effects: WarmTransferEffect[],
  nowMs: number,
  outcome: Exclude<TransferOutcome, 'accepted' | 'caller_hung_up'>,
  detail: string,
  legStillUp = true,
): void {
  const c = state.current!;
  if (legStillUp) cancel(state, c, effects);
  effects.push({ kind: 'outcome', outcome, ...attemptFields(c), detail });
  effects.push({ kind: 'release', staffId: c.staffId });
  delete state.current;
  if (state.config.retry && nowMs < state.startedAtMs + state.config.maxWaitMs) {
    state.phase = 'finding';
    effects.push({ kind: 'find_candidate', exclude: [...state.tried] });
  } else {
    finish(state, effects, 'unavailable');
  }
}

function cancel(state: WarmTransferState, c: Attempt, effects: WarmTransferEffect[]): void {
  if (c.legSid) {
    effects.push({ kind: 'cancel_leg', legSid: c.legSid });
    state.abandoned.push(c.legSid);
  } else {
    // The REST create has not answered yet: `leg_created` for a stale attempt cancels it.
    c.cancelPending = true;
  }
}

function finish(state: WarmTransferState, effects: WarmTransferEffect[], result: WarmTransferResult): void {
  state.phase = 'done';
  state.result = result;
  delete state.current;
  effects.push({ kind: 'finished', result });
}

/** After the end: give back people found too late, end legs that answer too late, refuse late gathers. */
function lateEvent(state: WarmTransferState, event: WarmTransferEvent, effects: WarmTransferEffect[]): void {
  switch (event.type) {
    case 'candidate':
      effects.push({ kind: 'release', staffId: event.candidate.staffId });
      return;
    case 'leg_created':
      if (event.attempt !== acceptedAttempt(state)) effects.push({ kind: 'cancel_leg', legSid: event.legSid });
      return;
    case 'leg':
      if (event.status === 'answered' && event.legSid && event.attempt !== acceptedAttempt(state)) {
        effects.push({ kind: 'cancel_leg', legSid: event.legSid });
      }
      return;
    case 'digit':
      if (event.attempt !== acceptedAttempt(state)) effects.push({ kind: 'gather_reply', attempt: event.attempt, reply: 'hangup' });
      else effects.push({ kind: 'gather_reply', attempt: event.attempt, reply: 'join' });
      return;
    default:
      return;
  }
}

function acceptedAttempt(state: WarmTransferState): number | undefined {
  return state.result === 'accepted' ? state.attempts : undefined;
}
