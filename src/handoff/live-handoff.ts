import type { Calls } from '../calls/calls.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { LlmPort } from '../providers/llm/port.js';
import { backToAiTwiml, callerConferenceTwiml, forkName, forkUrlOf } from '../telephony/handoff-twiml.js';
import { buildBrief } from './brief.js';
import type { ConferenceEventLike } from './conference.js';
import type { ForkTurn } from './fork-transcriber.js';
import { personLeft } from './conference.js';
import type { Handoffs } from './handoffs.js';
import type { HandoffTelephony } from './telephony-port.js';
import type { AttemptOutcome, PeoplePicker, TransferRunResult } from './transfer-run.js';

/**
 * A live call's side of a handoff (docs/handoff.md): moves the caller into
 * `call-<CallSid>`, runs the transfer, and afterwards either hands the call to
 * the person (state `human`, the audio fork started) or gives the caller back
 * to the AI (the saved snapshot resumes at `onUnavailable` on a new media
 * stream). A person who leaves while the caller stays also gives the caller
 * back. Every step is a call event.
 */
export interface WarmTransferRequest {
  callSid: string;
  nodeId: string;
  target: { queue: string } | { number: string };
  /** warm (default): brief and press 1; cold (a queue): each person in turn joins at answer. */
  mode?: 'warm' | 'cold';
  /** Rendered summary template for the person, if the node has one. */
  summary?: string;
  onUnavailable?: string;
  ringSeconds: number;
  maxWaitSeconds: number;
}

export interface LiveHandoffDeps {
  calls: Calls;
  handoffs: Handoffs;
  telephony: HandoffTelephony;
  /** Issues a stream token for the call (the new media stream, the fork). */
  streamToken(callSid: string, accountSid: string): string;
  publicUrl: string;
  clock: Clock;
  logger: Logger;
  /** People for a target: a queue's eligible people in turn, or the one number. */
  peopleFor(target: WarmTransferRequest['target']): PeoplePicker;
  llm?: LlmPort;
  /** Where a caller given back after a person left resumes (the flow's handoffNode), by call. */
  handoffNodeOf?(callSid: string): Promise<string | undefined>;
  /** The person's session is over (handed back, left, or the call ended): assignment gives it back. */
  releasePerson?(staffId: string): Promise<void>;
  /** A person is about to be rung for this call (workspace offers); `outcome` follows on each attempt. */
  onOffer?(offer: TransferOffer): void;
}

/** A person rung for a call: what their workspace shows while the phone rings. */
export interface TransferOffer {
  callSid: string;
  staffId: string;
  kind: 'warm' | 'cold' | 'assume';
  from: string;
  to: string;
  brief?: string;
}

/** A person takes over a call from the AI (`POST /calls/:id/assume`). */
export interface AssumeRequest {
  callSid: string;
  staffId: string;
  /** `phone` or `client:<identity>`. */
  dial: string;
  ringSeconds: number;
  reason?: string;
  /**
   * Stops the AI at once and keeps the caller on the stream: resolves with the
   * interpreter snapshot (the live call's `park`).
   */
  park(): Promise<unknown>;
  /** Takes one session of the person (assignment); given back when they are done. */
  takeSession?(): Promise<void>;
}

export type AssumeRefusal = 'not_found' | 'ended' | 'not_with_ai' | 'hold_failed';

/** How the AI takes the caller back: at a node, where it stopped, or through the flow's fallback. */
interface ResumeAt {
  at?: string;
  failed?: string;
}

/** An agent a person hands the call to, as the directory serves it. */
export interface HandBackTarget {
  agentId: string;
  slug: string;
  version: number;
  /** The flow's `settings.handoffNode`, else its `start`. */
  entryNode: string;
}

interface Active {
  staffId?: string;
  legSid?: string;
  /** A hand back is under way: a person's leave is expected, not a reason to act. */
  handingBack: boolean;
}

export class LiveHandoff {
  private readonly active = new Map<string, Active>();

  constructor(private readonly deps: LiveHandoffDeps) {}

  /**
   * Starts a warm transfer from the AI. Resolves once the caller is on hold
   * (the AI's part is over); `done` ends with the transfer.
   */
  async warmTransfer(request: WarmTransferRequest): Promise<{ ok: true; done: Promise<TransferRunResult> } | { ok: false; reason: string }> {
    const { calls, telephony, publicUrl } = this.deps;
    const { callSid } = request;
    const mode = request.mode ?? 'warm';
    const record = await calls.get(callSid);
    if (!record || record.state !== 'ai') return { ok: false, reason: 'call_not_with_ai' };
    await calls.setPendingTransfer(callSid, {
      nodeId: request.nodeId,
      target: request.target,
      ...(request.onUnavailable ? { onUnavailable: request.onUnavailable } : {}),
    });
    if (!(await calls.signal(callSid, 'transfer_requested'))) return { ok: false, reason: 'call_not_with_ai' };
    try {
      // The media stream ends here (stop + close); the caller hears hold audio.
      await telephony.redirectCall(callSid, callerConferenceTwiml(publicUrl, callSid));
    } catch (err) {
      this.deps.logger.warn({ err, callSid }, 'moving the caller to hold failed');
      await calls.signal(callSid, 'resume_ai');
      await calls.signal(callSid, 'stream_started');
      return { ok: false, reason: 'hold_failed' };
    }
    this.active.set(callSid, { handingBack: false });
    // The brief is built while the caller already hears hold audio (an LLM summary may take seconds).
    const brief =
      mode === 'warm'
        ? await buildBrief({
            ...(request.summary ? { summary: request.summary } : {}),
            turns: record.turns.map((t) => ({ role: t.role, text: t.text })),
            ...(this.deps.llm ? { llm: this.deps.llm } : {}),
            clock: this.deps.clock,
          })
        : { text: '' };
    const { done } = this.deps.handoffs.start({
      callerSid: callSid,
      callerId: record.to,
      people: this.offering(this.deps.peopleFor(request.target), { callSid, kind: mode, from: record.from, to: record.to, ...(brief.text ? { brief: brief.text } : {}) }),
      mode,
      ringSeconds: request.ringSeconds,
      maxWaitMs: request.maxWaitSeconds * 1000,
      brief: brief.text,
      onOutcome: (o) => this.outcome(callSid, o),
    });
    const unavailable: ResumeAt = request.onUnavailable ? { at: request.onUnavailable } : { failed: 'transfer_unavailable' };
    return { ok: true, done: done.then((r) => this.finished(callSid, record.accountSid, unavailable, 'transfer_unavailable', r)) };
  }

  /**
   * A person takes the call from the AI: the AI stops at once (the caller's
   * audio is cleared first; what they heard is kept), its snapshot is saved,
   * the caller joins their conference and the person is rung as a participant
   * (no brief; answering is joining). If they do not answer, the AI takes the
   * caller back where it stopped. Resolves once the caller is on hold.
   */
  async assume(request: AssumeRequest): Promise<{ ok: true; done: Promise<TransferRunResult> } | { ok: false; reason: AssumeRefusal }> {
    const { calls, telephony, publicUrl } = this.deps;
    const { callSid, staffId } = request;
    const record = await calls.get(callSid);
    if (!record) return { ok: false, reason: 'not_found' };
    if (record.state === 'ended') return { ok: false, reason: 'ended' };
    if (record.state !== 'ai') return { ok: false, reason: 'not_with_ai' };
    // The state moves first, so a second assume (or the flow's own transfer) is refused from here on.
    if (!(await calls.signal(callSid, 'transfer_requested'))) return { ok: false, reason: 'not_with_ai' };
    calls.emit({ type: 'handoff.assumed', callSid, staffId, ...(request.reason ? { reason: request.reason } : {}) });
    const snapshot = await request.park();
    await calls.saveSnapshot(callSid, snapshot);
    await request.takeSession?.();
    try {
      await telephony.redirectCall(callSid, callerConferenceTwiml(publicUrl, callSid));
    } catch (err) {
      this.deps.logger.warn({ err, callSid }, 'moving the caller to the conference failed; the AI takes the caller back');
      await this.release(staffId);
      this.active.set(callSid, { handingBack: false });
      await this.backToAi(callSid, record.accountSid, {}, 'assume_failed', false);
      return { ok: false, reason: 'hold_failed' };
    }
    this.active.set(callSid, { handingBack: false });
    const picker: PeoplePicker = {
      pick: async (exclude) => (exclude.includes(staffId) ? undefined : { staffId, dial: request.dial }),
      release: (id) => this.release(id),
    };
    const { done } = this.deps.handoffs.start({
      callerSid: callSid,
      callerId: record.to,
      people: this.offering(picker, { callSid, kind: 'assume', from: record.from, to: record.to }),
      mode: 'assume',
      ringSeconds: request.ringSeconds,
      maxWaitMs: request.ringSeconds * 1000 + 15_000,
      brief: '',
      onOutcome: (o) => this.outcome(callSid, o),
    });
    return { ok: true, done: done.then((r) => this.finished(callSid, record.accountSid, {}, 'assume_unanswered', r)) };
  }

  /** Whether a handoff of this call is in this process (conference, person, or back to the AI under way). */
  has(callSid: string): boolean {
    return this.active.has(callSid);
  }

  /** Tells the workspace who is about to be rung. */
  private offering(picker: PeoplePicker, offer: Omit<TransferOffer, 'staffId'>): PeoplePicker {
    const onOffer = this.deps.onOffer;
    if (!onOffer) return picker;
    return {
      pick: async (exclude) => {
        const c = await picker.pick(exclude);
        if (c) {
          try {
            onOffer({ ...offer, staffId: c.staffId });
          } catch (err) {
            this.deps.logger.warn({ err }, 'offer listener failed');
          }
        }
        return c;
      },
      release: (id) => picker.release(id),
    };
  }

  private outcome(callSid: string, o: AttemptOutcome): void {
    this.deps.calls.emit({
      type: `transfer.${o.outcome}`,
      callSid,
      ...(o.staffId ? { staffId: o.staffId } : {}),
      ...(o.attempt !== undefined ? { attempt: o.attempt } : {}),
      ...(o.detail ? { detail: o.detail } : {}),
    });
  }

  private async finished(callSid: string, accountSid: string, unavailable: ResumeAt, reason: string, r: TransferRunResult): Promise<TransferRunResult> {
    const { calls } = this.deps;
    if (r.result === 'accepted') {
      const a = this.active.get(callSid);
      if (a) {
        a.staffId = r.staffId;
        a.legSid = r.legSid;
      }
      await calls.signal(callSid, 'transfer_connected');
      await calls.setHandler(callSid, { kind: 'person', staffId: r.staffId! });
      try {
        await this.deps.telephony.startFork(callSid, {
          name: forkName(callSid),
          url: forkUrlOf(this.deps.publicUrl),
          token: this.deps.streamToken(callSid, accountSid),
        });
      } catch (err) {
        // The call goes on without a transcript of the person's part.
        this.deps.logger.warn({ err, callSid }, 'starting the audio fork failed');
      }
      return r;
    }
    if (r.result === 'unavailable') await this.backToAi(callSid, accountSid, unavailable, reason, false);
    else this.active.delete(callSid);
    return r;
  }

  /** The caller goes back to the AI on a new stream: the snapshot resumes at `at`, else where it stopped (or its fallback when `failed`). */
  async backToAi(callSid: string, accountSid: string, resume: ResumeAt, reason: string, stopFork: boolean): Promise<boolean> {
    const { calls } = this.deps;
    const a = this.active.get(callSid);
    if (a) a.handingBack = true;
    // Set before the state moves: the old stream's close must already see that a new one is expected.
    await calls.setResume(callSid, { ...(resume.at ? { at: resume.at } : resume.failed ? { failed: resume.failed } : {}), reason });
    if (!(await calls.signal(callSid, 'resume_ai'))) {
      await calls.setResume(callSid, undefined);
      return false;
    }
    if (a?.staffId) await this.release(a.staffId);
    await calls.setHandler(callSid, undefined);
    calls.armStreamStart(callSid);
    try {
      await this.deps.telephony.redirectCall(callSid, backToAiTwiml(this.deps.publicUrl, callSid, this.deps.streamToken(callSid, accountSid), { stopFork }));
    } catch (err) {
      this.deps.logger.error({ err, callSid }, 'giving the caller back to the AI failed');
      return false;
    } finally {
      this.active.delete(callSid);
    }
    return true;
  }

  /** Conference callbacks: a person who leaves while the caller stays gives the caller back to the AI. */
  async onConferenceEvent(event: ConferenceEventLike): Promise<void> {
    const a = this.active.get(event.callerSid);
    if (!a || a.handingBack || !personLeft(event, a.legSid)) return;
    const record = await this.deps.calls.get(event.callerSid);
    if (!record || record.state !== 'human') return;
    this.deps.calls.emit({ type: 'handoff.person_left', callSid: event.callerSid, staffId: a.staffId ?? '' });
    const at = await this.deps.handoffNodeOf?.(event.callerSid);
    await this.backToAi(event.callerSid, record.accountSid, at ? { at } : {}, 'person_left', true);
  }

  /** The caller's leg ended: a transfer in progress lets its person go at once; a person who had the call is free again. */
  callerEnded(callSid: string): void {
    this.deps.handoffs.callerHungUp(callSid);
    const staffId = this.active.get(callSid)?.staffId;
    this.active.delete(callSid);
    if (staffId) void this.release(staffId);
  }

  private async release(staffId: string): Promise<void> {
    try {
      await this.deps.releasePerson?.(staffId);
    } catch (err) {
      this.deps.logger.error({ err, staffId }, 'releasing a person failed');
    }
  }

  /**
   * A turn from the audio fork while a person has the call: a call event, a turn
   * in the record, and an entry in the saved snapshot's transcript, so the AI
   * that takes the caller back has the whole conversation. The person's words
   * reach the LLM as a system note (the transcript has no role for a third voice).
   */
  async forkTurn(callSid: string, turn: ForkTurn): Promise<void> {
    const { calls, clock } = this.deps;
    const at = clock.wallNow();
    if (turn.speaker === 'caller') calls.emit({ type: 'turn.caller', callSid, text: turn.text, via: 'speech' });
    else calls.emit({ type: 'turn.staff', callSid, text: turn.text });
    await calls.addTurn(callSid, { role: turn.speaker, text: turn.text, at });
    const record = await calls.get(callSid);
    const snapshot = record?.snapshot as { transcript?: unknown[] } | undefined;
    if (!snapshot || !Array.isArray(snapshot.transcript)) return;
    const entry =
      turn.speaker === 'caller'
        ? { role: 'caller', text: turn.text, at }
        : { role: 'system', text: `A support person on the call said: ${turn.text}`, at };
    await calls.saveSnapshot(callSid, { ...snapshot, transcript: [...snapshot.transcript, entry] });
  }

  /**
   * A person hands the caller to an AI agent (`POST /calls/:id/transfer-to-ai`).
   * The same agent and version as before resumes where it left off; another
   * agent starts at its entry node with the call's variables and whole
   * transcript. The fork is stopped first; the caller leaving ends the
   * conference, which lets the person's leg go.
   */
  async transferToAi(callSid: string, target: HandBackTarget, by?: string, reason?: string): Promise<{ ok: true } | { ok: false; reason: 'not_with_person' | 'failed' }> {
    const { calls } = this.deps;
    const record = await calls.get(callSid);
    if (!record || record.state !== 'human') return { ok: false, reason: 'not_with_person' };
    const same = record.agentId === target.agentId && record.version === target.version;
    // A snapshot that ended (a warm transfer the AI finished) has nowhere to resume: the entry node.
    const ended = (record.snapshot as { status?: unknown } | undefined)?.status === 'ended';
    const resumes = same && !ended;
    if (!same) await calls.setAgent(callSid, target);
    calls.emit({ type: 'handoff.to_ai', callSid, agentId: target.agentId, version: target.version, resumes, ...(by ? { by } : {}), ...(reason ? { reason } : {}) });
    const ok = await this.backToAi(callSid, record.accountSid, resumes ? {} : { at: target.entryNode }, 'transfer_to_ai', true);
    return ok ? { ok: true } : { ok: false, reason: 'failed' };
  }
}
