import type { Calls } from '../calls/calls.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Flow } from '../flow/schema.js';
import type { SttEvent, SttPort, SttSession } from '../providers/stt/port.js';
import type { CallSession, SessionEvent } from './call-session.js';
import type { PlayoutEvent } from './playout.js';
import type { ReplyLlm } from './reply-llm.js';
import { FILLER_PHRASE } from './static-phrases.js';
import { TurnMetricsRecorder, type TurnMetrics } from './turn-metrics.js';
import { TurnTaking, type AgentAudioState, type TurnDecision, type TurnInput } from './turn-taking.js';

/**
 * The listening half of a live call (docs/architecture.md#turn-taking): caller audio → speech-to-text
 * → turn-taking → the call session. It opens the STT stream when the media
 * stream starts (the adapter buffers audio until it is open), forwards the
 * μ-law untouched, feeds the turn-taking state machine with STT events, caller
 * audio time, the playout's agent-audio state, the reply's first frame and key
 * presses, and acts on its decisions. It also keeps the per-turn metrics and
 * plays the filler when a reply is slow to start.
 */

/** No agent audio 1.5 s after a caller turn → the cached filler, once, so the caller hears we are on it. */
export const FILLER_AFTER_MS = 1_500;

export interface ListeningDeps {
  callSid: string;
  session: CallSession;
  /** Undefined: speech input is not available on this call (keypad only). */
  stt: SttPort | undefined;
  flow: Flow;
  calls: Calls;
  clock: Clock;
  logger: Logger;
  /** The call's LLM decorator: timing marks, and the abort for joined turns. */
  llm?: ReplyLlm;
  fillerPhrase?: string;
}

interface PendingReply {
  recorder: TurnMetricsRecorder;
  firstFrame: boolean;
  filler?: TimerHandle;
  fillerPlayed: boolean;
}

export class CallListening {
  private readonly turns: TurnTaking;
  private stt: SttSession | undefined;
  private audioBytes = 0;
  /**
   * When the latest caller audio arrived, and whether turn-taking has heard of it.
   * Turn-taking only reads its audio anchor when a speech event comes, so the
   * anchor goes in just before the next `stt` input instead of with every frame
   * (an object and a decision array 50 times a second, for nothing).
   */
  private audioAtMs = 0;
  private anchorPending = false;
  private agentAudio: AgentAudioState = 'idle';
  private reply: PendingReply | undefined;
  private closed = false;
  private unsubscribe: (() => void) | undefined;
  /** Fast interrupt: releases held agent audio when no words confirm the interruption in time. */
  private holdTimer: TimerHandle | undefined;

  constructor(private readonly d: ListeningDeps) {
    this.turns = new TurnTaking({ minWords: d.flow.settings.bargeIn.minWords });
  }

  /** Opens speech-to-text and subscribes to the session; call once, when the stream starts. */
  start(): void {
    const { session, flow, logger } = this.d;
    this.openStt();
    session.setCallerAudioSink((mulaw) => this.onCallerAudio(mulaw));
    const offPlayout = session.playout.on((e) => this.onPlayout(e));
    const offSession = session.events.on((e) => this.onSession(e));
    this.unsubscribe = () => {
      offPlayout();
      offSession();
    };
    logger.debug({ language: flow.settings.language, speech: this.stt !== undefined }, 'listening started');
  }

  private onSession(e: SessionEvent): void {
    const now = () => this.d.clock.now();
    switch (e.type) {
      case 'dtmf':
        return this.feed({ type: 'dtmf', digit: e.digit });
      case 'tts_request':
        this.reply?.recorder.ttsRequestSent(now());
        return;
      case 'tts_first_byte':
        this.reply?.recorder.ttsFirstByte(now());
        return;
      case 'closed':
        return this.close();
      default:
        return;
    }
  }

  /** Hang-up or transfer: STT closes (CloseStream), timers stop. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reply?.filler?.cancel();
    this.reply = undefined;
    this.cancelHoldTimer();
    this.unsubscribe?.();
    this.d.session.setCallerAudioSink(undefined);
    const stt = this.stt;
    this.stt = undefined;
    void stt?.close().catch((err: unknown) => this.d.logger.warn({ err }, 'closing speech-to-text failed'));
  }

  /** The LLM timing hooks for this call's ReplyLlm. */
  llmHooks() {
    const now = () => this.d.clock.now();
    return {
      onRequest: () => this.reply?.recorder.llmRequestSent(now()),
      onFirstToken: () => this.reply?.recorder.llmFirstToken(now()),
      onFirstSentence: () => this.reply?.recorder.llmFirstSentence(now()),
    };
  }

  private openStt(): void {
    const { stt, flow, logger } = this.d;
    if (!stt) {
      logger.warn('speech input is unavailable on this call: no speech-to-text is configured (DEEPGRAM_API_KEY)');
      return;
    }
    try {
      this.stt = stt.open(
        {
          language: flow.settings.language,
          ...(flow.settings.stt?.model ? { model: flow.settings.stt.model } : {}),
          ...(flow.settings.stt?.secondaryModel ? { secondaryModel: flow.settings.stt.secondaryModel } : {}),
          ...(flow.settings.stt?.endpointingMs !== undefined ? { endpointingMs: flow.settings.stt.endpointingMs } : {}),
          ...(flow.settings.stt?.sendIntervalMs !== undefined ? { sendIntervalMs: flow.settings.stt.sendIntervalMs } : {}),
        },
        (event) => this.onStt(event),
      );
    } catch (err) {
      const message = err instanceof AppError || err instanceof Error ? err.message : String(err);
      // Once per call, naming the variable or the open circuit; keypad flows go on working.
      logger.warn({ reason: message }, 'speech input is unavailable on this call');
    }
  }

  private onCallerAudio(mulaw: Buffer): void {
    if (this.closed) return;
    // One clock read per frame for both: speech-to-text is given the same clock as the call (src/container.ts).
    const now = this.d.clock.now();
    this.stt?.sendAudio(mulaw, now);
    this.audioBytes += mulaw.length;
    this.audioAtMs = now;
    this.anchorPending = true;
  }

  private onStt(event: SttEvent): void {
    if (this.closed) return;
    if (event.type === 'failed') {
      this.d.logger.error({ reason: event.reason }, 'speech-to-text failed; taking the flow fallback');
      this.d.session.onCallerSpeech();
      this.d.session.failSpeech();
      return;
    }
    if (event.type === 'reconnecting') this.d.logger.warn({ attempt: event.attempt }, 'speech-to-text reconnecting');
    this.feed({ type: 'stt', event });
  }

  private onPlayout(e: PlayoutEvent): void {
    if (e.type === 'underrun') return;
    if (e.type === 'segment_started' && this.reply && !this.reply.firstFrame && !String(e.turn).startsWith('filler-')) {
      this.reply.firstFrame = true;
      this.reply.filler?.cancel();
      this.reply.recorder.firstFrameSent(e.atMs);
      // The metrics belong to the utterance that carries the reply.
      const speech = this.d.session.currentSpeech;
      if (speech?.id === e.turn) speech.attachMetrics(compact(this.reply.recorder.metrics()));
      this.feed({ type: 'reply_first_frame' });
    }
    if (e.type === 'segment_started' && this.reply) this.reply.filler?.cancel();
    const { state } = this.d.session.playout;
    const next: AgentAudioState = state.hasUnplayedInterruptibleAudio
      ? 'interruptible'
      : state.hasUnplayedAudio
        ? 'non_interruptible'
        : 'idle';
    // Queued but unsent audio is no reason to hold a turn: it counts once its first frame is out.
    if (next !== 'idle' && e.type !== 'segment_started' && this.agentAudio === 'idle') return;
    if (next === this.agentAudio) return;
    this.agentAudio = next;
    this.feed({ type: 'agent_audio', state: next });
  }

  private feed(input: TurnInput): void {
    if (this.closed) return;
    if (this.anchorPending && input.type === 'stt') {
      this.anchorPending = false;
      this.turns.feed({ type: 'caller_audio', audioMs: this.audioBytes / 8 }, this.audioAtMs);
    }
    for (const decision of this.turns.feed(input, this.d.clock.now())) this.act(decision);
  }

  private act(d: TurnDecision): void {
    const { session, calls, callSid } = this.d;
    switch (d.type) {
      case 'caller_turn':
        this.beginReply(d.endedAtMs, d.endpointMs);
        session.onCallerTurn({ text: d.text, ...(d.endpointMs !== null ? { metrics: { endpointMs: d.endpointMs } } : {}) });
        return;
      case 'join_turns': {
        // The reply has sent nothing yet: drop it and answer both turns at once.
        this.d.llm?.abortInFlight('join_turns');
        session.abortReply();
        this.beginReply(d.endedAtMs, d.endpointMs);
        const newest = d.turns.at(-1) ?? d.text;
        session.joinCallerTurn({ text: newest });
        this.d.logger.debug({ turns: d.turns.length }, 'caller turns joined');
        return;
      }
      case 'barge_in':
        this.cancelHoldTimer();
        // The utterance stops through its own controller; the flow's reply stops with it.
        if (session.bargeIn()) this.reply?.filler?.cancel();
        return;
      case 'hold_audio':
        if (!session.holdAudio()) return;
        this.cancelHoldTimer();
        this.holdTimer = this.d.clock.setTimeout(() => {
          this.holdTimer = undefined;
          this.feed({ type: 'hold_expired' });
        }, this.d.flow.settings.bargeIn.confirmMs);
        return;
      case 'resume_audio':
        this.cancelHoldTimer();
        session.resumeAudio();
        return;
      case 'backchannel':
        calls.emit({ type: 'turn.caller', callSid, text: d.text, via: 'speech', backchannel: true });
        void calls.addTurn(callSid, { role: 'caller', text: d.text, at: this.d.clock.wallNow(), via: 'speech', backchannel: true });
        return;
      case 'pause_silence_timers':
        session.pauseSilenceTimers();
        return;
      case 'restart_silence_timers':
        session.onCallerSpeech();
        return;
      case 'turn_deferred':
      case 'stop_prompt':
      case 'dtmf':
        // Deferred turns come back as caller_turn after playout; keys are handled by the session itself.
        return;
    }
  }

  private cancelHoldTimer(): void {
    this.holdTimer?.cancel();
    this.holdTimer = undefined;
  }

  private beginReply(endedAtMs: number, endpointMs: number | null): void {
    this.reply?.filler?.cancel();
    const reply: PendingReply = {
      recorder: new TurnMetricsRecorder().turnEnded(endedAtMs, endpointMs),
      firstFrame: false,
      fillerPlayed: false,
    };
    reply.filler = this.d.clock.setTimeout(() => {
      if (this.reply !== reply || reply.firstFrame || reply.fillerPlayed || this.closed) return;
      if (!this.d.session.playout.idle) return;
      reply.fillerPlayed = true;
      void this.d.session.playFiller(this.d.fillerPhrase ?? FILLER_PHRASE).then((played) => {
        if (!played) this.d.logger.debug('filler phrase not cached; nothing played');
      });
    }, FILLER_AFTER_MS);
    this.reply = reply;
  }
}

/** Measured stages only: a stage that did not happen is left out of the stored metrics. */
function compact(m: TurnMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) if (typeof v === 'number') out[k] = v;
  return out;
}
