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
    const record = await calls.get(callSid);
    if (!record || record.state !== 'ai') return { ok: false, reason: 'call_not_with_ai' };
    await calls.setPendingTransfer(callSid, {
      nodeId: request.nodeId,
      target: request.target,
      ...(request.onUnavailable ? { onUnavailable: request.onUnavailable } : {}),
    });
    if (!(await calls.signal(callSid, 'transfer_requested'))) return { ok: false, reason: 'call_not_with_ai' };
    const brief = await buildBrief({
      ...(request.summary ? { summary: request.summary } : {}),
      turns: record.turns.map((t) => ({ role: t.role, text: t.text })),
      ...(this.deps.llm ? { llm: this.deps.llm } : {}),
      clock: this.deps.clock,
    });
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
    const { done } = this.deps.handoffs.start({
      callerSid: callSid,
      callerId: record.to,
      people: this.deps.peopleFor(request.target),
      mode: 'warm',
      ringSeconds: request.ringSeconds,
      maxWaitMs: request.maxWaitSeconds * 1000,
      brief: brief.text,
      onOutcome: (o) => this.outcome(callSid, o),
    });
    return { ok: true, done: done.then((r) => this.finished(callSid, record.accountSid, request.onUnavailable, r)) };
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

  private async finished(callSid: string, accountSid: string, onUnavailable: string | undefined, r: TransferRunResult): Promise<TransferRunResult> {
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
    if (r.result === 'unavailable') await this.backToAi(callSid, accountSid, onUnavailable, 'transfer_unavailable', false);
    else this.active.delete(callSid);
    return r;
  }

  /** The caller goes back to the AI on a new stream: the snapshot resumes at `at` (or where it stopped). */
  async backToAi(callSid: string, accountSid: string, at: string | undefined, reason: string, stopFork: boolean): Promise<boolean> {
    const { calls } = this.deps;
    const a = this.active.get(callSid);
    if (a) a.handingBack = true;
    if (!(await calls.signal(callSid, 'resume_ai'))) return false;
    if (a?.staffId) await this.release(a.staffId);
    await calls.setResume(callSid, { ...(at ? { at } : {}), reason });
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
    await this.backToAi(event.callerSid, record.accountSid, at, 'person_left', true);
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
  async transferToAi(callSid: string, target: HandBackTarget): Promise<{ ok: true } | { ok: false; reason: 'not_with_person' | 'failed' }> {
    const { calls } = this.deps;
    const record = await calls.get(callSid);
    if (!record || record.state !== 'human') return { ok: false, reason: 'not_with_person' };
    const same = record.agentId === target.agentId && record.version === target.version;
    if (!same) await calls.setAgent(callSid, target);
    calls.emit({ type: 'handoff.to_ai', callSid, agentId: target.agentId, version: target.version, resumes: same });
    const ok = await this.backToAi(callSid, record.accountSid, same ? undefined : target.entryNode, 'transfer_to_ai', true);
    return ok ? { ok: true } : { ok: false, reason: 'failed' };
  }
}
