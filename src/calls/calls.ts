import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { ProviderTimer } from '../providers/deadline.js';
import {
  newCallRecord,
  nextState,
  type CallHandler,
  type CallRecord,
  type CallSignal,
  type FallbackRecord,
  type NextStep,
  type PendingTransfer,
  type TurnRecord,
} from './call-record.js';
import type { CallEventBus, CallEventInput } from './events.js';
import { InProcessCallHolders, type CallHolders } from './holders.js';
import type { CallRepository } from './repository.js';

/**
 * If Twilio has not opened the media stream this long after we returned
 * Connect/Stream TwiML, the call is treated as ended: either the caller hung up
 * while ringing or Twilio cannot reach our WebSocket, and nothing else will
 * ever close the record.
 */
export const STREAM_START_TIMEOUT_MS = 10_000;

/** Twilio's final call statuses (docs/protocols.md#status-callbacks). */
export const FINAL_CALL_STATUSES = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);

/**
 * The call ledger: every change to a call record goes through here, so the
 * transition table is enforced in one place and each change is an event.
 */
export class Calls {
  private readonly startTimers = new Map<string, ProviderTimer>();

  constructor(
    readonly repository: CallRepository,
    readonly bus: CallEventBus,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Who holds each call (one process, or Redis across several). */
    readonly holders: CallHolders = new InProcessCallHolders(),
  ) {}

  emit(event: CallEventInput): void {
    this.bus.publish({ ...event, at: this.clock.wallNow() } as Parameters<CallEventBus['publish']>[0]);
  }

  get(callSid: string): Promise<CallRecord | undefined> {
    return this.repository.get(callSid);
  }

  /** Idempotent: a retried webhook for the same CallSid gets the existing record. */
  async open(init: Omit<Parameters<typeof newCallRecord>[0], 'nowMs'>): Promise<{ record: CallRecord; created: boolean }> {
    const result = await this.repository.createIfAbsent(newCallRecord({ ...init, nowMs: this.clock.wallNow() }));
    if (result.created) {
      await this.holders.hold(init.callSid);
      this.emit({
        type: 'call.started',
        callSid: init.callSid,
        agentId: init.agentId,
        slug: init.slug,
        version: init.version,
        direction: init.direction,
      });
    }
    return result;
  }

  /** Applies a state signal; illegal ones are logged and ignored (returns false). */
  async signal(callSid: string, signal: CallSignal): Promise<boolean> {
    let from: CallRecord['state'] | undefined;
    let to: CallRecord['state'] | undefined;
    await this.repository.update(callSid, (r) => {
      from = r.state;
      to = nextState(r.state, signal);
      if (to) r.state = to;
    });
    if (from === undefined) {
      this.logger.warn({ callSid, signal }, 'state signal for an unknown call ignored');
      return false;
    }
    if (!to) {
      if (from !== 'ended') this.logger.warn({ callSid, signal, state: from }, 'illegal call state signal ignored');
      return false;
    }
    this.emit({ type: 'call.state', callSid, from, to, signal });
    return true;
  }

  /** Calls answered with stream TwiML whose stream has not started yet: they will need a live call slot. */
  get awaitingStream(): number {
    return this.startTimers.size;
  }

  /**
   * Starts the 10 s wait for the stream `start` after Connect/Stream TwiML is
   * returned. The stream may start on another process (which cannot cancel this
   * timer), so when it fires it ends the call only if no stream started since.
   */
  armStreamStart(callSid: string): void {
    this.startTimers.get(callSid)?.cancel();
    const streamsBefore = this.repository.get(callSid).then((r) => r?.streams.length ?? 0);
    // Judged like a provider's deadline (src/providers/deadline.ts): a timer that fires while our
    // loop was behind looks again after the next I/O pass, where a `start` that has been waiting in
    // the socket is read, instead of ending a call whose stream is already here. Under overload the
    // plain timer ended such calls as no_stream and refused their streams (bench/README.md, density).
    const timer = new ProviderTimer(this.clock, () => {
      this.startTimers.delete(callSid);
      void (async () => {
        const [before, now] = await Promise.all([streamsBefore, this.repository.get(callSid)]);
        if (now && now.streams.length > before) return;
        await this.end(callSid, 'no_stream', 'no_stream');
      })().catch((err: unknown) => this.logger.error({ err, callSid }, 'stream start timeout failed'));
    });
    this.startTimers.set(callSid, timer);
    timer.arm(STREAM_START_TIMEOUT_MS);
  }

  async streamStarted(callSid: string, streamSid: string): Promise<boolean> {
    this.startTimers.get(callSid)?.cancel();
    this.startTimers.delete(callSid);
    const ok = await this.signal(callSid, 'stream_started');
    if (!ok) return false;
    await this.holders.hold(callSid);
    await this.repository.update(callSid, (r) => {
      if (!r.streams.some((x) => x.streamSid === streamSid)) r.streams.push({ streamSid, startedAt: this.clock.wallNow() });
      r.nextStep = undefined;
      r.pendingTransfer = undefined;
    });
    this.emit({ type: 'stream.started', callSid, streamSid });
    return true;
  }

  /**
   * A stream closed. With no `nextStep` and the AI still in charge, nothing will
   * follow, so the call ends here (a `stop` means the caller hung up; a bare
   * close means the socket failed).
   */
  async streamEnded(callSid: string, streamSid: string, reason: string): Promise<void> {
    let endCall = false;
    const r = await this.repository.update(callSid, (r) => {
      const s = r.streams.find((x) => x.streamSid === streamSid);
      if (s) {
        s.endedAt ??= this.clock.wallNow();
        s.endReason ??= reason;
      }
      // A call on its way back to the AI (`resume` set) expects a new stream: the old one closing is not the end.
      endCall = r.nextStep === undefined && (r.state === 'ai' || (r.state === 'connecting' && r.resume === undefined));
    });
    if (!r) return;
    this.emit({ type: 'stream.ended', callSid, streamSid, reason });
    if (endCall) await this.end(callSid, reason === 'stop' ? 'caller_hangup' : reason, reason === 'stop' ? 'completed' : 'media_error');
  }

  async setNextStep(callSid: string, step: NextStep | undefined): Promise<void> {
    await this.repository.update(callSid, (r) => {
      r.nextStep = step;
    });
    if (step) this.emit({ type: 'next_step.set', callSid, step });
  }

  async setPendingTransfer(callSid: string, pending: PendingTransfer | undefined): Promise<void> {
    await this.repository.update(callSid, (r) => {
      r.pendingTransfer = pending;
    });
  }

  async setResume(callSid: string, resume: CallRecord['resume']): Promise<void> {
    await this.repository.update(callSid, (r) => {
      r.resume = resume;
    });
  }

  async saveSnapshot(callSid: string, snapshot: unknown): Promise<void> {
    await this.repository.update(callSid, (r) => {
      r.snapshot = snapshot;
    });
  }

  async addTurn(callSid: string, turn: TurnRecord): Promise<void> {
    await this.repository.update(callSid, (r) => {
      // Applied again when a write is replayed (src/calls/fail-soft-repository.ts): the same turn once.
      if (r.turns.slice(-5).some((t) => t.at === turn.at && t.role === turn.role && t.text === turn.text)) return;
      r.turns.push(turn);
    });
  }

  async addFallback(callSid: string, fallback: FallbackRecord): Promise<void> {
    await this.repository.update(callSid, (r) => {
      // Applied again when a write is replayed (src/calls/fail-soft-repository.ts): the same fallback once.
      if (r.fallbacks?.some((f) => f.at === fallback.at && f.reason === fallback.reason && f.nodeId === fallback.nodeId)) return;
      (r.fallbacks ??= []).push(fallback);
    });
  }

  async bumpMetrics(callSid: string, delta: Partial<CallRecord['metrics']>): Promise<void> {
    await this.repository.update(callSid, (r) => {
      for (const [k, v] of Object.entries(delta) as [keyof CallRecord['metrics'], number][]) r.metrics[k] += v;
    });
  }

  /**
   * Ends the call once: whichever of the status callback, a `stop` without a
   * next step, the start timeout or the pipeline comes first wins; later calls
   * are no-ops. Returns whether this call did the ending.
   */
  async end(callSid: string, reason: string, outcome = 'completed'): Promise<boolean> {
    this.startTimers.get(callSid)?.cancel();
    this.startTimers.delete(callSid);
    let from: CallRecord['state'] | undefined;
    let finalOutcome = outcome;
    await this.repository.update(callSid, (r) => {
      from = r.state;
      if (r.state === 'ended') return;
      r.state = 'ended';
      r.endedAt = this.clock.wallNow();
      r.outcome = r.outcome ?? { kind: outcome, detail: reason };
      finalOutcome = r.outcome.kind;
      const open = r.streams.at(-1);
      // The socket reports its own end reason when it closes (streamEnded).
      if (open && open.endedAt === undefined) open.endedAt = r.endedAt;
    });
    if (from === undefined || from === 'ended') return false;
    await this.holders.release(callSid);
    this.emit({ type: 'call.state', callSid, from, to: 'ended', signal: 'end' });
    this.emit({ type: 'call.ended', callSid, reason, outcome: finalOutcome });
    return true;
  }

  /**
   * The process holding the call died (its heartbeat stopped): the call ends as
   * failed with reason `process_lost`, whatever outcome it was heading for.
   */
  async endLost(callSid: string): Promise<boolean> {
    await this.repository.update(callSid, (r) => {
      if (r.state !== 'ended') r.outcome = { kind: 'failed', detail: 'process_lost' };
    });
    return this.end(callSid, 'process_lost', 'failed');
  }

  /** A person handed the call to another AI agent: that agent's version serves the rest of the call. */
  async setAgent(callSid: string, agent: { agentId: string; slug: string; version: number }): Promise<void> {
    await this.repository.update(callSid, (r) => {
      r.agentId = agent.agentId;
      r.slug = agent.slug;
      r.version = agent.version;
    });
  }

  /** Who has the call now; undefined gives it back to the AI the record was pinned to. */
  async setHandler(callSid: string, handler: CallHandler | undefined): Promise<void> {
    await this.repository.update(callSid, (r) => {
      r.handler = handler ?? { kind: 'ai', agentId: r.agentId, version: r.version };
      // Everyone who handled the call, in order: GET /usage counts such calls, the API names the last one.
      if (handler?.kind === 'person' && r.handledBy?.at(-1) !== handler.staffId) r.handledBy = [...(r.handledBy ?? []), handler.staffId];
    });
  }

  /** Sets the outcome before the end (e.g. `transferred`) so `end` keeps it. */
  async setOutcome(callSid: string, kind: string, detail?: string): Promise<void> {
    await this.repository.update(callSid, (r) => {
      r.outcome = detail === undefined ? { kind } : { kind, detail };
    });
  }

  /** The AMD verdict of an outbound call; the flow waiting for it hears of it through the event. */
  async setAnsweredBy(callSid: string, answeredBy: string): Promise<boolean> {
    const r = await this.repository.update(callSid, (r) => {
      r.answeredBy = answeredBy;
    });
    if (!r) return false;
    this.emit({ type: 'call.answered_by', callSid, answeredBy });
    return true;
  }

  /** Sets or changes the call's recording; false when the live ledger no longer holds the call. */
  async setRecording(callSid: string, change: (r: CallRecord) => void): Promise<boolean> {
    return (await this.repository.update(callSid, change)) !== undefined;
  }

  /** Cancels timers (shutdown). */
  close(): void {
    for (const t of this.startTimers.values()) t.cancel();
    this.startTimers.clear();
  }
}
