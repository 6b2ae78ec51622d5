import type { Calls } from '../calls/calls.js';
import type { CallControl } from '../calls/call-control.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { RunResult } from '../flow/events.js';
import type {
  InterpreterPort,
  ListenOptions,
  ListenResult,
  SayOptions,
  SayResult,
  TransferRequest,
  TransferResult,
} from '../flow/port.js';
import type { Flow } from '../flow/schema.js';
import { hasPlaceholders, render } from '../flow/template.js';
import type { TtsPort, VoiceSpec } from '../providers/tts/port.js';
import { DtmfCollector } from './dtmf-collector.js';
import type { MediaChannel, StreamCloseReason, StreamHandler } from './media-channel.js';
import type { Pacer } from './pacer.js';
import { CallPlayout, type HeardReport } from './playout.js';
import { Speaker, type PhraseSource } from './speaker.js';

/**
 * One live call on the phone (DESIGN §8): the InterpreterPort over a media
 * stream. Speech out goes through the Speaker and the paced playout; keypad
 * input through the DtmfCollector; caller speech arrives through
 * `onCallerTurn` / `onCallerSpeech` / `bargeIn`, fed by the speech-to-text side.
 */

/** A caller turn as the turn-taking layer reports it. */
export interface CallerTurn {
  text: string;
  metrics?: Record<string, number>;
}

/** Observers the listening side (src/pipeline/listening.ts) hooks in for metrics and turn-taking. */
export interface CallSessionHooks {
  onTtsRequest?: () => void;
  onTtsFirstByte?: () => void;
  onDtmf?: (digit: string) => void;
  /** The session closed (hang-up, transfer, stream gone). */
  onClosed?: () => void;
}

export interface CallSessionDeps {
  callSid: string;
  channel: MediaChannel;
  calls: Calls;
  callControl?: CallControl;
  clock: Clock;
  logger: Logger;
  pacer?: Pacer;
  tts: TtsPort;
  phrases: PhraseSource;
  flow: Flow;
  voice: VoiceSpec;
  /** Cold transfers: close the stream and answer `<Dial>` from /twilio/stream-ended (default), or a REST update. */
  transferVia?: 'stream' | 'rest';
  frameBytes?: number;
}

interface ActiveSay {
  turn: number;
  controller: AbortController;
  stopOnDtmf: boolean;
  interruptible: boolean;
  interrupted?: HeardReport;
}

interface PendingListen {
  options: ListenOptions;
  resolve: (r: ListenResult) => void;
  reject: (e: unknown) => void;
  timer?: TimerHandle;
  /** Timers start only once the agent's last mark has returned. */
  armed: boolean;
  cleanup: () => void;
}

const HANGUP_OUTCOMES: Record<string, string> = { silence: 'silence_timeout', fallback: 'failed', max_duration: 'max_duration' };

export class CallSession implements InterpreterPort, StreamHandler {
  readonly playout: CallPlayout;
  private readonly speaker: Speaker;
  private readonly dtmf = new DtmfCollector();
  private readonly callerTurns: CallerTurn[] = [];
  private readonly lifetime = new AbortController();
  private turn = 0;
  private activeSay: ActiveSay | undefined;
  private pendingListen: PendingListen | undefined;
  private closed = false;
  private callerAudioSink: ((mulaw: Buffer, timestampMs: number) => void) | undefined;
  /** Caller speech in progress: silence and gather timers wait until it ends. */
  private callerSpeaking = false;
  private fillerTurn = 0;
  /** Set by the runner so a fatal speech failure can stop the flow. */
  stopFlow: ((reason: string) => void) | undefined;
  lastSayCached = false;
  readonly hooks: CallSessionHooks = {};
  /** Per-turn metrics of the reply in progress (DESIGN §8), taken by the runner for the agent turn. */
  replyMetrics: Record<string, number> | undefined;
  /** Why speech input stopped working mid-call (the runner then takes the flow's fallback). */
  speechFailure: string | undefined;

  constructor(private readonly deps: CallSessionDeps) {
    const { channel } = deps;
    this.playout = new CallPlayout({
      clock: deps.clock,
      ...(deps.pacer ? { pacer: deps.pacer } : {}),
      ...(deps.frameBytes ? { frameBytes: deps.frameBytes } : {}),
      sink: (m) => {
        if (m.kind === 'media') channel.sendMedia(m.payload);
        else if (m.kind === 'mark') channel.sendMark(m.name);
        else channel.sendClear();
      },
    });
    this.playout.on((e) => {
      if (e.type === 'idle') this.armListenTimer();
    });
    this.speaker = new Speaker({
      playout: this.playout,
      tts: deps.tts,
      phrases: deps.phrases,
      voice: deps.voice,
      pronunciations: deps.flow.settings.pronunciations,
      clock: deps.clock,
      logger: deps.logger,
      onTtsRequest: () => {
        this.hooks.onTtsRequest?.();
        void deps.calls.bumpMetrics(deps.callSid, { ttsRequests: 1 });
      },
      onTtsFirstByte: () => this.hooks.onTtsFirstByte?.(),
      onCachedPhrase: () => void deps.calls.bumpMetrics(deps.callSid, { cachedPhrases: 1 }),
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ── InterpreterPort ──────────────────────────────────────────────────────

  async say(text: string | AsyncIterable<string>, options: SayOptions): Promise<SayResult> {
    this.lastSayCached = false;
    if (this.closed) return { outcome: 'aborted', heardText: '' };
    // Keys pressed before a gather prompt answer it: the caller is typing ahead.
    if (options.stopOnDtmf && this.dtmf.pending.length > 0) return { outcome: 'interrupted', heardText: '' };
    const turn = ++this.turn;
    const controller = new AbortController();
    const active: ActiveSay = { turn, controller, stopOnDtmf: options.stopOnDtmf ?? false, interruptible: options.interruptible };
    this.activeSay = active;
    const external = [options.signal, this.lifetime.signal].filter((s): s is AbortSignal => s !== undefined);
    const onExternal = () => {
      if (!controller.signal.aborted) {
        active.interrupted ??= this.playout.clear();
        controller.abort('aborted');
      }
    };
    for (const s of external) {
      if (s.aborted) onExternal();
      else s.addEventListener('abort', onExternal, { once: true });
    }
    try {
      const r = await this.speaker.speak(text, {
        turn,
        interruptible: options.interruptible,
        cacheable: options.cacheable && typeof text === 'string',
        signal: controller.signal,
      });
      this.lastSayCached = r.cached;
      if (r.outcome === 'tts_failed') return await this.speechFailed(r.text, r.error?.message ?? 'tts failed');
      if (active.interrupted) {
        const heard = active.interrupted.turns.find((t) => t.turn === turn)?.heardText ?? '';
        const external = options.signal?.aborted || this.lifetime.signal.aborted;
        return { outcome: external && controller.signal.reason === 'aborted' ? 'aborted' : 'interrupted', heardText: heard };
      }
      if (r.outcome === 'played' || r.outcome === 'timed_out') return { outcome: 'played', heardText: r.text };
      if (r.outcome === 'cleared') return { outcome: 'interrupted', heardText: '' };
      return { outcome: 'aborted', heardText: this.heardOf(turn) };
    } finally {
      for (const s of external) s.removeEventListener('abort', onExternal);
      if (this.activeSay === active) this.activeSay = undefined;
    }
  }

  listen(options: ListenOptions): Promise<ListenResult> {
    if (this.closed) return Promise.resolve({ kind: 'hangup' });
    const ready = this.takeReadyInput(options);
    if (ready) return Promise.resolve(ready);
    return new Promise<ListenResult>((resolve, reject) => {
      const onAbort = () => this.settleListen({ error: options.signal?.reason ?? new Error('aborted') });
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.pendingListen = {
        options,
        resolve,
        reject,
        armed: false,
        cleanup: () => options.signal?.removeEventListener('abort', onAbort),
      };
      if (options.signal?.aborted) return onAbort();
      this.armListenTimer();
    });
  }

  async transfer(request: TransferRequest): Promise<TransferResult> {
    const { calls, callSid } = this.deps;
    const target = request.target;
    if ('queue' in target) {
      // No people routing yet (DESIGN §6): a queue target is unavailable.
      calls.emit({ type: 'transfer.degraded', callSid, requested: request.mode, ranAs: 'unavailable', reason: 'queues_not_available', nodeId: request.nodeId });
      return { outcome: 'unavailable', reason: 'queues_not_available' };
    }
    if (request.mode === 'warm') {
      calls.emit({ type: 'transfer.degraded', callSid, requested: 'warm', ranAs: 'cold', reason: 'warm_transfer_not_available', nodeId: request.nodeId });
    }
    if (this.closed) return { outcome: 'unavailable', reason: 'call_closed' };
    await this.playout.whenIdle();
    await calls.setPendingTransfer(callSid, {
      nodeId: request.nodeId,
      target,
      ...(request.onUnavailable ? { onUnavailable: request.onUnavailable } : {}),
    });
    if (!(await calls.signal(callSid, 'transfer_requested'))) return { outcome: 'unavailable', reason: 'call_not_with_ai' };
    const step = { kind: 'dial', number: target.number } as const;
    if (this.deps.transferVia === 'rest' && this.deps.callControl) {
      try {
        // Twilio ends the stream itself (stop + close) and runs the new TwiML.
        await this.deps.callControl.redirect(callSid, step);
        return { outcome: 'transferred' };
      } catch (err) {
        this.deps.logger.warn({ err }, 'REST transfer failed; transferring through the stream end instead');
      }
    }
    await calls.setNextStep(callSid, step);
    this.deps.channel.close('transfer');
    return { outcome: 'transferred' };
  }

  /** Hangs up once the agent's last mark has returned (or its audio plus grace has passed). */
  async hangup(reason = 'completed'): Promise<void> {
    if (this.closed) return;
    await this.playout.whenIdle();
    await this.endCall(reason, HANGUP_OUTCOMES[reason] ?? 'completed');
  }

  // ── StreamHandler (from the media transport) ─────────────────────────────

  onMedia(mulaw: Buffer, timestampMs: number): void {
    this.callerAudioSink?.(mulaw, timestampMs);
  }

  onDtmf(digit: string): void {
    if (this.closed) return;
    this.deps.calls.emit({ type: 'dtmf', callSid: this.deps.callSid, digit });
    this.hooks.onDtmf?.(digit);
    this.dtmf.push(digit);
    if (this.activeSay?.stopOnDtmf) this.interrupt('dtmf');
    const p = this.pendingListen;
    if (!p || !p.options.dtmf) return;
    const got = this.dtmf.take(p.options.dtmf);
    if (got.complete) return this.settleListen({ result: { kind: 'dtmf', digits: got.digits } });
    // The inter-digit pause restarts with every key.
    this.restartListenTimer();
  }

  onMark(name: string): void {
    this.playout.onMarkReturned(name);
  }

  onStop(): void {
    this.shutdown();
  }

  onClosed(_reason: StreamCloseReason): void {
    this.shutdown();
  }

  // ── Caller speech (fed by speech-to-text + turn-taking) ──────────────────

  /** Raw caller audio goes here (e.g. to Deepgram). */
  setCallerAudioSink(sink: ((mulaw: Buffer, timestampMs: number) => void) | undefined): void {
    this.callerAudioSink = sink;
  }

  /** A finished caller turn: answers a pending speech `listen`, else waits for the next one. */
  onCallerTurn(turn: CallerTurn): void {
    if (this.closed) return;
    const p = this.pendingListen;
    if (p?.options.speech) return this.settleListen({ result: { kind: 'speech', text: turn.text } });
    this.callerTurns.push(turn);
  }

  /**
   * Another turn ended before the reply's first frame (DESIGN §8): its text is
   * added to a turn still waiting for `listen`, else it is a turn of its own.
   * Either way the flow sees each turn's words once.
   */
  joinCallerTurn(turn: CallerTurn): void {
    if (this.closed) return;
    const last = this.callerTurns.at(-1);
    if (last) last.text = `${last.text} ${turn.text}`.trim();
    else this.onCallerTurn(turn);
  }

  /** Caller speech started or continues: silence and gather timers start over. */
  onCallerSpeech(): void {
    this.callerSpeaking = false;
    this.restartListenTimer();
  }

  /** Caller speech started: silence and gather timers wait (SpeechStarted never clears audio). */
  pauseSilenceTimers(): void {
    this.callerSpeaking = true;
    const p = this.pendingListen;
    p?.timer?.cancel();
    if (p) p.timer = undefined;
  }

  /**
   * Drops a reply that has sent no audio yet (its LLM request is being
   * re-issued with a joined turn): no barge-in event, nothing was heard.
   */
  abortReply(): void {
    const active = this.activeSay;
    if (!active || active.controller.signal.aborted || !active.interruptible) return;
    active.interrupted = this.playout.clear();
    active.controller.abort('join_turns');
  }

  /** The cached filler phrase, outside any say; false when it is not cached or the call is over. */
  async playFiller(text: string): Promise<boolean> {
    if (this.closed) return false;
    const r = await this.speaker.playCached(`filler-${++this.fillerTurn}`, text, this.lifetime.signal);
    return r !== undefined;
  }

  /** Speech input is gone for good (Deepgram failed after its retries): the runner takes the fallback. */
  failSpeech(reason: string): void {
    if (this.closed || this.speechFailure) return;
    this.speechFailure = reason;
    this.callerSpeaking = false;
    this.stopFlow?.('stt_failed');
  }

  /** Aborted when the call's session ends. */
  get signal(): AbortSignal {
    return this.lifetime.signal;
  }

  /** Whether caller speech now would cut the agent off (interruptible audio unplayed). */
  get canBargeIn(): boolean {
    return !!this.activeSay?.interruptible && this.playout.hasUnplayedInterruptibleAudio;
  }

  /** Barge-in: `clear` first, then stop TTS; the current say resolves `interrupted` with what was heard. */
  bargeIn(): boolean {
    if (!this.canBargeIn) return false;
    this.interrupt('speech');
    return true;
  }

  // ── internals ────────────────────────────────────────────────────────────

  private interrupt(reason: 'speech' | 'dtmf'): void {
    const active = this.activeSay;
    if (!active || active.controller.signal.aborted) return;
    const heard = this.playout.clear();
    active.interrupted = heard;
    active.controller.abort('barge_in');
    const heardText = heard.turns.find((t) => t.turn === active.turn)?.heardText ?? '';
    this.deps.calls.emit({ type: 'barge_in', callSid: this.deps.callSid, heardText, reason });
    void this.deps.calls.bumpMetrics(this.deps.callSid, { bargeIns: 1 });
  }

  private heardOf(turn: number): string {
    return this.playout.heard().turns.find((t) => t.turn === turn)?.heardText ?? '';
  }

  private takeReadyInput(options: ListenOptions): ListenResult | undefined {
    if (options.dtmf) {
      const got = this.dtmf.take(options.dtmf);
      if (got.complete) return { kind: 'dtmf', digits: got.digits };
    }
    if (options.speech) {
      const t = this.callerTurns.shift();
      if (t) return { kind: 'speech', text: t.text };
    }
    return undefined;
  }

  private armListenTimer(): void {
    const p = this.pendingListen;
    if (!p || p.armed || !this.playout.idle) return;
    p.armed = true;
    if (!this.callerSpeaking) this.startListenTimer(p);
  }

  private restartListenTimer(): void {
    const p = this.pendingListen;
    if (!p || !p.armed || this.callerSpeaking) return;
    p.timer?.cancel();
    this.startListenTimer(p);
  }

  private startListenTimer(p: PendingListen): void {
    p.timer = this.deps.clock.setTimeout(() => {
      if (this.pendingListen !== p) return;
      const partial = p.options.dtmf ? this.dtmf.takePartial() : '';
      this.settleListen({ result: partial ? { kind: 'dtmf', digits: partial } : { kind: 'timeout' } });
    }, p.options.timeoutMs);
  }

  private settleListen(outcome: { result: ListenResult } | { error: unknown }): void {
    const p = this.pendingListen;
    if (!p) return;
    this.pendingListen = undefined;
    p.timer?.cancel();
    p.cleanup();
    if ('result' in outcome) p.resolve(outcome.result);
    else p.reject(outcome.error);
  }

  /**
   * TTS failed on a live phrase: say the fallback message from the cache and
   * hang up; if it is not cached either, close the stream and let
   * /twilio/stream-ended say it with `<Say>`. Either way the flow stops.
   */
  private async speechFailed(text: string, error: string): Promise<SayResult> {
    const { calls, callSid, flow } = this.deps;
    const fallbackTemplate = flow.settings.fallbackMessage;
    const fallback = render(fallbackTemplate, {});
    await calls.setOutcome(callSid, 'tts_failed', error);
    const played = hasPlaceholders(fallbackTemplate)
      ? undefined
      : await this.speaker.playCached(++this.turn, fallback, this.lifetime.signal);
    calls.emit({ type: 'tts.failed', callSid, text, error, fallback: played ? 'cached' : 'twiml' });
    this.stopFlow?.('tts_failed');
    if (played) {
      await this.endCall('tts_failed', 'tts_failed');
    } else {
      await calls.setNextStep(callSid, { kind: 'say', text: fallback, language: flow.settings.language });
      this.deps.channel.close('tts_failed');
      this.shutdown();
    }
    return { outcome: 'aborted', heardText: '' };
  }

  /** Ends the call in the record and closes the stream; the Connect action then answers `<Hangup/>`. */
  async endCall(reason: string, outcome: string): Promise<void> {
    if (this.closed) return;
    await this.deps.calls.end(this.deps.callSid, reason, outcome);
    this.deps.channel.close(reason);
    this.shutdown();
  }

  /** Called once the interpreter has finished, whatever the reason. */
  async afterRun(result: RunResult): Promise<void> {
    if (this.closed) return;
    switch (result.outcome) {
      case 'transferred':
      case 'aborted':
        return;
      case 'max_duration':
        return this.endCall('max_call_seconds', 'max_duration');
      default:
        await this.hangup(result.reason ?? result.outcome);
    }
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    this.lifetime.abort('stream_closed');
    this.playout.close();
    this.settleListen({ result: { kind: 'hangup' } });
    this.stopFlow?.('stream_closed');
    try {
      this.hooks.onClosed?.();
    } catch (err) {
      this.deps.logger.warn({ err }, 'session close hook failed');
    }
  }
}
