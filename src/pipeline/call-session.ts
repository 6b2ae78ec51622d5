import type { Calls } from '../calls/calls.js';
import type { CallControl } from '../calls/call-control.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { Emitter } from '../core/emitter.js';
import { stopReasonOf, type StopReason } from '../core/stop-reason.js';
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
import type { ChannelFailure } from '../flow/interpreter.js';
import type { Flow } from '../flow/schema.js';
import type { TtsPort, VoiceSpec } from '../providers/tts/port.js';
import { DtmfCollector } from './dtmf-collector.js';
import type { MediaChannel, StreamCloseReason, StreamHandler } from './media-channel.js';
import type { Pacer } from './pacer.js';
import { CallPlayout, type PlayoutTotals } from './playout.js';
import { Speaker, type PhraseSource } from './speaker.js';
import { SpeechHandle } from './speech-handle.js';

/**
 * One live call on the phone (docs/architecture.md#live-call-assembly): the InterpreterPort over a media
 * stream. Speech out goes through the Speaker and the paced playout; keypad
 * input through the DtmfCollector; caller speech arrives through
 * `onCallerTurn` / `onCallerSpeech` / `bargeIn`, fed by the speech-to-text side.
 */

/** A caller turn as the turn-taking layer reports it. */
export interface CallerTurn {
  text: string;
  metrics?: Record<string, number>;
}

/**
 * What the session reports to the parts of its call (the listening side for
 * turn-taking and metrics, the call for the flow). Each part subscribes; no
 * part writes another's fields.
 */
export type SessionEvent =
  /** An utterance started; its handle settles when it ends. */
  | { type: 'speech_started'; speech: SpeechHandle }
  /** An utterance ended: outcome, heard text and metrics are final. */
  | { type: 'speech_ended'; speech: SpeechHandle }
  | { type: 'tts_request' }
  | { type: 'tts_first_byte' }
  | { type: 'dtmf'; digit: string }
  /** Speech input or output failed for good: the flow's fallback must follow. */
  | { type: 'failed'; reason: ChannelFailure }
  /**
   * The session closed; nothing more is played. `byFlow`: the flow's own
   * hang-up or last words closed it (the flow then ends on its own); otherwise
   * the stream went away or the call was stopped, and the flow must stop.
   */
  | { type: 'closed'; reason: StopReason; byFlow: boolean };

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
  /** The process's underrun totals (read by /metrics). */
  playoutTotals?: PlayoutTotals;
  /** Transfers to people (warm, or to a queue) through the handoff module; without it they are degraded. */
  people?: PeopleTransfer;
}

/**
 * Hands the caller to people (src/handoff/live-handoff.ts): resolves once the
 * caller is on hold in their conference (the AI's part is over), or refuses.
 */
export interface PeopleTransfer {
  start(callSid: string, request: TransferRequest): Promise<{ ok: true } | { ok: false; reason: string }>;
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

/** Speech output failed on this call: what failed, for the `tts.failed` event of the last words. */
interface SpeechOutFailure {
  text: string;
  error: string;
}

const HANGUP_OUTCOMES: Record<string, string> = {
  silence: 'silence_timeout',
  fallback: 'failed',
  max_duration: 'max_duration',
  voicemail: 'voicemail',
};

export class CallSession implements InterpreterPort, StreamHandler {
  readonly playout: CallPlayout;
  readonly events: Emitter<SessionEvent>;
  private readonly speaker: Speaker;
  private readonly dtmf = new DtmfCollector();
  private readonly callerTurns: CallerTurn[] = [];
  private readonly lifetime = new AbortController();
  private turn = 0;
  private activeSpeech: SpeechHandle | undefined;
  private pendingListen: PendingListen | undefined;
  private closed = false;
  private callerAudioSink: ((mulaw: Buffer, timestampMs: number) => void) | undefined;
  /** Caller speech in progress: silence and gather timers wait until it ends. */
  private callerSpeaking = false;
  private fillerTurn = 0;
  private speechInFailed = false;
  private speechOutFailed: SpeechOutFailure | undefined;

  constructor(private readonly deps: CallSessionDeps) {
    const { channel } = deps;
    this.events = new Emitter<SessionEvent>((err, e) => deps.logger.warn({ err, event: e.type }, 'call session listener failed'));
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
    const totals = deps.playoutTotals;
    this.playout.on((e) => {
      if (e.type === 'idle') this.armListenTimer();
      else if (e.type === 'underrun' && totals) {
        totals.underruns++;
        totals.underrunMs += e.lateMs;
      }
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
        this.events.emit({ type: 'tts_request' });
        void deps.calls.bumpMetrics(deps.callSid, { ttsRequests: 1 });
      },
      onTtsFirstByte: () => this.events.emit({ type: 'tts_first_byte' }),
      onCachedPhrase: () => void deps.calls.bumpMetrics(deps.callSid, { cachedPhrases: 1 }),
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The utterance playing now, if any. */
  get currentSpeech(): SpeechHandle | undefined {
    return this.activeSpeech;
  }

  // ── InterpreterPort ──────────────────────────────────────────────────────

  async say(text: string | AsyncIterable<string>, options: SayOptions): Promise<SayResult> {
    if (this.closed) return { outcome: 'aborted', heardText: '' };
    if (this.speechOutFailed) return this.sayLastWords(text, options);
    // Keys pressed before a gather prompt answer it: the caller is typing ahead.
    if (options.stopOnDtmf && this.dtmf.pending.length > 0) return { outcome: 'interrupted', heardText: '' };
    const speech = new SpeechHandle(++this.turn, options.interruptible, options.stopOnDtmf ?? false);
    this.activeSpeech = speech;
    // The flow run and the call's lifetime stop the utterance too, through its own controller.
    const external = [options.signal, this.lifetime.signal].filter((s): s is AbortSignal => s !== undefined);
    const onExternal = (e?: Event) => {
      if (speech.signal.aborted) return;
      const source = (e?.target as AbortSignal | undefined) ?? external.find((s) => s.aborted);
      speech.abort(stopReasonOf(source?.reason) ?? 'hangup', this.playout.clear());
    };
    for (const s of external) {
      if (s.aborted) onExternal();
      else s.addEventListener('abort', onExternal, { once: true });
    }
    this.events.emit({ type: 'speech_started', speech });
    try {
      const r = await this.speaker.speak(text, {
        turn: speech.id,
        interruptible: options.interruptible,
        cacheable: options.cacheable && typeof text === 'string',
        signal: speech.signal,
      });
      const base = { text: r.text, segments: r.segments ?? [], cached: r.cached };
      if (r.outcome === 'tts_failed') {
        speech.abort('tts_failed');
        speech.settle({ ...base, outcome: 'aborted', heardText: '' });
        await this.speechOutLost(r.text, r.error?.message ?? 'tts failed');
        return { outcome: 'aborted', heardText: '' };
      }
      const heardWhenCut = speech.heardWhenCut;
      if (heardWhenCut !== undefined) {
        speech.settle({ ...base, outcome: speech.cutByCaller ? 'interrupted' : 'aborted', heardText: heardWhenCut });
      } else if (r.outcome === 'played' || r.outcome === 'timed_out') {
        speech.settle({ ...base, outcome: 'played', heardText: r.text });
      } else if (r.outcome === 'cleared') {
        speech.settle({ ...base, outcome: 'interrupted', heardText: '' });
      } else {
        speech.settle({ ...base, outcome: 'aborted', heardText: this.heardOf(speech.id) });
      }
      return { outcome: speech.outcome!, heardText: speech.heardText };
    } finally {
      for (const s of external) s.removeEventListener('abort', onExternal);
      if (this.activeSpeech === speech) this.activeSpeech = undefined;
      speech.settle({ outcome: 'aborted', heardText: '', text: '' });
      this.events.emit({ type: 'speech_ended', speech });
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
    if (this.deps.people && ('queue' in target || request.mode === 'warm')) {
      if (this.closed) return { outcome: 'unavailable', reason: 'call_closed' };
      // The announcement is heard to its end before the caller moves to hold.
      await this.playout.whenIdle();
      const started = await this.deps.people.start(callSid, request);
      return started.ok ? { outcome: 'transferred' } : { outcome: 'unavailable', reason: started.reason };
    }
    if ('queue' in target) {
      // No people routing yet (staff and queues come with the people work): a queue target is unavailable.
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
    // After a TTS failure the hang-up that follows the last words records why.
    if (this.speechOutFailed) return this.endCall('tts_failed', 'tts_failed');
    await this.endCall(reason, HANGUP_OUTCOMES[reason] ?? 'completed');
  }

  // ── StreamHandler (from the media transport) ─────────────────────────────

  onMedia(mulaw: Buffer, timestampMs: number): void {
    this.callerAudioSink?.(mulaw, timestampMs);
  }

  onDtmf(digit: string): void {
    if (this.closed) return;
    this.deps.calls.emit({ type: 'dtmf', callSid: this.deps.callSid, digit });
    this.events.emit({ type: 'dtmf', digit });
    this.dtmf.push(digit);
    if (this.activeSpeech?.stopOnDtmf) this.interrupt('dtmf');
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
    this.close('hangup');
  }

  onClosed(_reason: StreamCloseReason): void {
    this.close('hangup');
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
   * Another turn ended before the reply's first frame (docs/architecture.md#turn-taking): its text is
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
    const speech = this.activeSpeech;
    if (!speech || speech.signal.aborted || !speech.interruptible) return;
    speech.abort('join_turns', this.playout.clear());
  }

  /** The cached filler phrase, outside any say; false when it is not cached or the call is over. */
  async playFiller(text: string): Promise<boolean> {
    if (this.closed) return false;
    const r = await this.speaker.playCached(`filler-${++this.fillerTurn}`, text, this.lifetime.signal);
    return r !== undefined;
  }

  /** Speech input is gone for good (Deepgram failed after its retries): the flow takes its fallback. */
  failSpeech(): void {
    if (this.closed || this.speechInFailed) return;
    this.speechInFailed = true;
    this.callerSpeaking = false;
    this.events.emit({ type: 'failed', reason: 'stt_failed' });
  }

  /** Aborted when the call's session ends. */
  get signal(): AbortSignal {
    return this.lifetime.signal;
  }

  /** Whether caller speech now would cut the agent off (interruptible audio unplayed). */
  get canBargeIn(): boolean {
    return !!this.activeSpeech?.interruptible && this.playout.hasUnplayedInterruptibleAudio;
  }

  /**
   * Fast interrupt: caller speech began over interruptible audio, so no new
   * agent frame goes out until words decide (`bargeIn` clears, `resumeAudio`
   * goes on). False when there is nothing to hold.
   */
  holdAudio(): boolean {
    if (!this.canBargeIn) return false;
    this.playout.hold();
    return true;
  }

  /** The speech did not interrupt: the held audio goes on from where it stopped. */
  resumeAudio(): void {
    this.playout.resume();
  }

  /** Barge-in: `clear` first, then stop TTS; the current say resolves `interrupted` with what was heard. */
  bargeIn(): boolean {
    if (!this.canBargeIn) return false;
    this.interrupt('speech');
    return true;
  }

  // ── internals ────────────────────────────────────────────────────────────

  private interrupt(via: 'speech' | 'dtmf'): void {
    const speech = this.activeSpeech;
    if (!speech || speech.signal.aborted) return;
    speech.abort('barge_in', this.playout.clear());
    const heardText = speech.heardWhenCut ?? '';
    this.deps.calls.emit({ type: 'barge_in', callSid: this.deps.callSid, heardText, reason: via });
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
   * TTS failed on a live phrase: the call's speech output is gone. The flow is
   * told (its fallback decides what the last words are); every later `say` is
   * delivered by `sayLastWords`.
   */
  private async speechOutLost(text: string, error: string): Promise<void> {
    this.speechOutFailed = { text, error };
    await this.deps.calls.setOutcome(this.deps.callSid, 'tts_failed', error);
    this.events.emit({ type: 'failed', reason: 'tts_failed' });
  }

  /**
   * The last words after TTS failed (the flow's fallback message): from the
   * phrase cache when it is there, else the stream closes and
   * /twilio/stream-ended says them with `<Say>`.
   */
  private async sayLastWords(text: string | AsyncIterable<string>, options: SayOptions): Promise<SayResult> {
    const { calls, callSid, flow } = this.deps;
    const failure = this.speechOutFailed!;
    let words = '';
    if (typeof text === 'string') words = text;
    else for await (const chunk of text) words += chunk;
    const played = options.cacheable ? await this.speaker.playCached(++this.turn, words, this.lifetime.signal) : undefined;
    calls.emit({ type: 'tts.failed', callSid, text: failure.text, error: failure.error, fallback: played ? 'cached' : 'twiml' });
    if (played) return { outcome: played.outcome === 'aborted' ? 'aborted' : 'played', heardText: words };
    await calls.setNextStep(callSid, { kind: 'say', text: words, language: flow.settings.language });
    this.deps.channel.close('tts_failed');
    this.close('tts_failed', true);
    return { outcome: 'played', heardText: words };
  }

  /** Ends the call in the record and closes the stream; the Connect action then answers `<Hangup/>`. */
  async endCall(reason: string, outcome: string): Promise<void> {
    if (this.closed) return;
    await this.deps.calls.end(this.deps.callSid, reason, outcome);
    this.deps.channel.close(reason);
    this.close('hangup', true);
  }

  /** Called once the interpreter has finished, whatever the reason. */
  async finish(result: RunResult): Promise<void> {
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

  /** Stops everything at once: speech is cut, a pending listen answers `hangup`. */
  close(reason: StopReason, byFlow = false): void {
    if (this.closed) return;
    this.closed = true;
    this.lifetime.abort(reason);
    this.playout.close();
    this.settleListen({ result: { kind: 'hangup' } });
    this.events.emit({ type: 'closed', reason, byFlow });
  }
}
