/**
 * Turn-taking for one call (docs/architecture.md#turn-taking): a pure state machine. The call session
 * feeds it every relevant happening with the monotonic time it happened
 * (`feed(input, nowMs)`) and acts on the decisions it returns, in order. It owns
 * no timers and no I/O, so every rule is unit-tested without waiting.
 *
 * How a call session drives it:
 * - every STT event                      → `{ type: 'stt', event }`
 * - caller audio                         → `{ type: 'caller_audio', audioMs }` (total caller audio so
 *   far, ms, with `nowMs` when its latest frame arrived; anchors the STT audio clock for
 *   `endpointMs`). Only the latest anchor is read, when an STT event comes: the listening side
 *   feeds it before the next STT event rather than with every frame.
 * - whenever unplayed agent audio changes → `{ type: 'agent_audio', state, stopOnDtmf? }`:
 *   `interruptible` / `non_interruptible` when a segment is queued or starts,
 *   `idle` when every sent segment's mark has returned or after a `clear`
 * - the first media frame of a reply     → `{ type: 'reply_first_frame' }`
 * - a reply that will send no audio      → `{ type: 'reply_cancelled' }` (hang-up, transfer, node with no speech)
 * - a key press                          → `{ type: 'dtmf', digit }`
 *
 * Decisions, and what the session does with each:
 * - `caller_turn`   the caller finished a turn: hand `text` to the waiting `listen()` (or the
 *                   conversation), start the reply, record `endpointMs`.
 * - `join_turns`    another turn ended before the pending reply's first frame: abort the LLM
 *                   request and re-issue it with `text` (both turns joined) as the caller's turn.
 * - `barge_in`      send Twilio `clear` first, then abort LLM and TTS; the caller's turn goes on
 *                   and ends later as a `caller_turn`. The machine treats agent audio as cleared.
 * - `backchannel`   keep `text` in the transcript; start no reply; agent audio continues.
 * - `turn_deferred` speech ended over audio that must not be cut: nothing to do now; the text
 *                   comes back as a `caller_turn` (with `deferred: true`) once audio is `idle`.
 * - `pause_silence_timers` / `restart_silence_timers`  caller speech started / ended.
 * - `stop_prompt`   a key press during a gather prompt (`stopOnDtmf`): `clear` the prompt.
 * - `dtmf`          queue the digit for the next `listen` that accepts keys.
 */
import type { SttEvent } from '../providers/stt/port.js';
import { BACKCHANNEL_WORDS, DEFAULT_BARGE_IN_MIN_WORDS, isBackchannelOnly, isBargeIn } from './barge-in.js';

export type AgentAudioState = 'idle' | 'interruptible' | 'non_interruptible';

export type TurnInput =
  | { type: 'stt'; event: SttEvent }
  | { type: 'caller_audio'; audioMs: number }
  | { type: 'agent_audio'; state: AgentAudioState; stopOnDtmf?: boolean }
  | { type: 'reply_first_frame' }
  | { type: 'reply_cancelled' }
  /** `bargeIn.confirmMs` passed since `hold_audio` (the caller's timer). */
  | { type: 'hold_expired' }
  | { type: 'dtmf'; digit: string };

export type TurnDecision =
  | {
      type: 'caller_turn';
      text: string;
      /** Caller's last word → end-of-turn event, ms; null when the audio clock is unknown. */
      endpointMs: number | null;
      /** The end-of-turn event's time (nowMs); `responseMs` counts from here. */
      endedAtMs: number;
      /** Released after non-interruptible playout rather than at the end of speech. */
      deferred: boolean;
    }
  | {
      type: 'join_turns';
      /** Every turn since the pending reply started, joined with spaces. */
      text: string;
      turns: string[];
      endpointMs: number | null;
      endedAtMs: number;
    }
  | { type: 'barge_in'; words: string; atMs: number }
  /** The caller started talking over interruptible audio: send no new agent frames until words decide (fast interrupt). */
  | { type: 'hold_audio' }
  /** The speech was noise or a backchannel (or no words came in time): the agent audio goes on from where it stopped. */
  | { type: 'resume_audio' }
  | { type: 'backchannel'; text: string }
  | { type: 'turn_deferred'; text: string }
  | { type: 'pause_silence_timers' }
  | { type: 'restart_silence_timers' }
  | { type: 'stop_prompt'; reason: 'dtmf' }
  | { type: 'dtmf'; digit: string };

export interface TurnTakingOptions {
  /** `settings.bargeIn.minWords` of the flow. */
  minWords?: number;
  backchannelWords?: readonly string[];
}

export interface TurnTakingSnapshot {
  agentAudio: AgentAudioState;
  stopOnDtmf: boolean;
  /** `is_final` text of the turn in progress. */
  finals: string[];
  interim: string;
  /** Turns already handed out whose reply has sent no audio yet. */
  pendingReplyTurns: string[];
  deferred: string[];
  silenceTimersPaused: boolean;
  bargedIn: boolean;
  /** Agent audio is held after a SpeechStarted, waiting for words. */
  holdingAudio: boolean;
}

export class TurnTaking {
  private readonly minWords: number;
  private readonly backchannel: readonly string[];

  private agentAudio: AgentAudioState = 'idle';
  private stopOnDtmf = false;
  /** Barge-in fires once per stretch of interruptible audio. */
  private bargedIn = false;
  /** Agent audio held since a SpeechStarted over it; words confirm (barge_in) or release it (resume_audio). */
  private holding = false;

  private finals: string[] = [];
  private interim = '';
  /** Audio seconds of the caller's last word in the turn in progress. */
  private lastWordEndSec: number | undefined;
  /** UtteranceEnd came while the words were still interim: close at the next final. */
  private closeOnNextFinal = false;
  private silencePaused = false;

  private pendingReplyTurns: string[] = [];
  private deferred: { text: string; endpointMs: number | null; endedAtMs: number }[] = [];

  /** Latest (caller audio ms, nowMs) pair: maps STT audio times onto the monotonic clock. */
  private anchor: { audioMs: number; nowMs: number } | undefined;

  constructor(options: TurnTakingOptions = {}) {
    this.minWords = options.minWords ?? DEFAULT_BARGE_IN_MIN_WORDS;
    this.backchannel = options.backchannelWords ?? BACKCHANNEL_WORDS;
  }

  snapshot(): TurnTakingSnapshot {
    return {
      agentAudio: this.agentAudio,
      stopOnDtmf: this.stopOnDtmf,
      finals: [...this.finals],
      interim: this.interim,
      pendingReplyTurns: [...this.pendingReplyTurns],
      deferred: this.deferred.map((d) => d.text),
      silenceTimersPaused: this.silencePaused,
      bargedIn: this.bargedIn,
      holdingAudio: this.holding,
    };
  }

  feed(input: TurnInput, nowMs: number): TurnDecision[] {
    switch (input.type) {
      case 'caller_audio':
        this.anchor = { audioMs: input.audioMs, nowMs };
        return [];
      case 'agent_audio':
        return this.onAgentAudio(input.state, input.stopOnDtmf ?? false, nowMs);
      case 'reply_first_frame':
      case 'reply_cancelled':
        this.pendingReplyTurns = [];
        return [];
      case 'dtmf':
        return this.onDtmf(input.digit);
      case 'stt':
        return this.onStt(input.event, nowMs);
      case 'hold_expired':
        return this.release();
    }
  }

  /** Ends a hold that words did not confirm. */
  private release(): TurnDecision[] {
    if (!this.holding) return [];
    this.holding = false;
    return [{ type: 'resume_audio' }];
  }

  private onAgentAudio(state: AgentAudioState, stopOnDtmf: boolean, nowMs: number): TurnDecision[] {
    const was = this.agentAudio;
    this.agentAudio = state;
    this.stopOnDtmf = state !== 'idle' && stopOnDtmf;
    // The audio a hold was for has finished or was stopped: nothing is left to resume.
    if (state !== 'interruptible') this.holding = false;
    if (state === 'interruptible' && was !== 'interruptible') this.bargedIn = false;
    if (state !== 'idle' || this.deferred.length === 0) return [];
    // Playout finished: speech that ended over it becomes the next turn now.
    const held = this.deferred;
    this.deferred = [];
    const text = held.map((d) => d.text).join(' ');
    const first = held[0]!;
    return this.handOut(text, first.endpointMs, nowMs, true);
  }

  private onDtmf(digit: string): TurnDecision[] {
    const out: TurnDecision[] = [];
    if (this.agentAudio !== 'idle' && this.stopOnDtmf) {
      out.push({ type: 'stop_prompt', reason: 'dtmf' });
      this.agentAudio = 'idle';
      this.stopOnDtmf = false;
    }
    out.push({ type: 'dtmf', digit }, { type: 'restart_silence_timers' });
    this.silencePaused = false;
    return out;
  }

  private onStt(event: SttEvent, nowMs: number): TurnDecision[] {
    switch (event.type) {
      case 'speech_started': {
        const out: TurnDecision[] = [];
        if (this.agentAudio === 'interruptible' && !this.bargedIn && !this.holding) {
          // Fast interrupt: stop feeding Twilio now; what it has buffered (≤ the playout lead) still plays.
          this.holding = true;
          out.push({ type: 'hold_audio' });
        }
        if (this.silencePaused) return out;
        this.silencePaused = true;
        out.push({ type: 'pause_silence_timers' });
        return out;
      }
      case 'transcript':
        return this.onTranscript(event, nowMs);
      case 'utterance_end':
        return this.onUtteranceEnd(event.lastWordEnd, nowMs);
      case 'reconnecting':
        // Interim words of a dropped connection are never finalised; the replay re-sends them.
        this.interim = '';
        return [];
      case 'reconnected':
      case 'failed':
        return [];
    }
  }

  private onTranscript(event: Extract<SttEvent, { type: 'transcript' }>, nowMs: number): TurnDecision[] {
    const text = event.text.trim();
    const out: TurnDecision[] = [];
    if (text && event.lastWordEnd !== undefined) {
      this.lastWordEndSec = Math.max(this.lastWordEndSec ?? 0, event.lastWordEnd);
    } else if (text) {
      this.lastWordEndSec = Math.max(this.lastWordEndSec ?? 0, event.end);
    }
    if (event.isFinal) {
      if (text) this.finals.push(text);
      this.interim = '';
    } else {
      this.interim = text;
    }

    if (text && this.silencePaused === false) {
      // Words without a SpeechStarted (vad_events off, or it came late): still caller speech.
      this.silencePaused = true;
      out.push({ type: 'pause_silence_timers' });
    }

    if (text && this.agentAudio === 'interruptible' && !this.bargedIn) {
      const heard = this.currentText();
      if (isBargeIn(heard, this.minWords, this.backchannel)) {
        this.bargedIn = true;
        this.holding = false;
        // The session clears the audio at once; from here on the agent is silent.
        this.agentAudio = 'idle';
        this.stopOnDtmf = false;
        out.push({ type: 'barge_in', words: heard, atMs: nowMs });
      }
    }

    if (!event.isFinal) return out;

    // A final without interrupting words (a backchannel, one word, or nothing): the agent goes on.
    if (this.holding) out.push(...this.release());

    const hasTurn = this.finals.length > 0;
    if (hasTurn && (event.speechFinal || this.closeOnNextFinal)) {
      out.push(...this.endTurn(nowMs, event.end));
    } else if (!hasTurn && !this.interim && this.silencePaused && !text) {
      // SpeechStarted was noise: nothing was said, so silence counts again.
      this.silencePaused = false;
      out.push({ type: 'restart_silence_timers' });
    }
    return out;
  }

  private onUtteranceEnd(lastWordEndSec: number, nowMs: number): TurnDecision[] {
    if (this.finals.length > 0) {
      this.lastWordEndSec = Math.max(this.lastWordEndSec ?? 0, lastWordEndSec);
      return this.endTurn(nowMs, undefined);
    }
    if (this.interim) {
      // The words are still interim: the final that follows closes the turn.
      this.closeOnNextFinal = true;
      return [];
    }
    // Already closed by speech_final (the usual case), or nothing was said.
    if (!this.silencePaused) return [];
    this.silencePaused = false;
    return [{ type: 'restart_silence_timers' }];
  }

  /** Finals plus the interim guess of the turn in progress. */
  private currentText(): string {
    return [...this.finals, this.interim].filter(Boolean).join(' ');
  }

  private endTurn(nowMs: number, eventAudioEndSec: number | undefined): TurnDecision[] {
    const text = this.finals.join(' ');
    const endpointMs = this.endpointMs(nowMs, eventAudioEndSec);
    this.finals = [];
    this.interim = '';
    this.closeOnNextFinal = false;
    this.lastWordEndSec = undefined;
    this.silencePaused = false;
    const out: TurnDecision[] = [{ type: 'restart_silence_timers' }];

    if (this.agentAudio !== 'idle' && isBackchannelOnly(text, this.backchannel)) {
      out.push({ type: 'backchannel', text });
      return out;
    }
    if (this.agentAudio !== 'idle') {
      // Non-interruptible audio, or too few words to cut interruptible audio: wait for playout.
      this.deferred.push({ text, endpointMs, endedAtMs: nowMs });
      out.push({ type: 'turn_deferred', text });
      return out;
    }
    out.push(...this.handOut(text, endpointMs, nowMs, false));
    return out;
  }

  private handOut(text: string, endpointMs: number | null, nowMs: number, deferred: boolean): TurnDecision[] {
    if (this.pendingReplyTurns.length > 0) {
      this.pendingReplyTurns.push(text);
      const turns = [...this.pendingReplyTurns];
      return [{ type: 'join_turns', text: turns.join(' '), turns, endpointMs, endedAtMs: nowMs }];
    }
    this.pendingReplyTurns = [text];
    return [{ type: 'caller_turn', text, endpointMs, endedAtMs: nowMs, deferred }];
  }

  /**
   * Caller's last word → end-of-turn event. The last word's audio time is mapped
   * onto the monotonic clock through the latest caller-audio anchor (the phone
   * delivers audio in real time); without an anchor, the gap on the audio clock
   * to the end of the closing result is the best estimate.
   */
  private endpointMs(nowMs: number, eventAudioEndSec: number | undefined): number | null {
    const last = this.lastWordEndSec;
    if (last === undefined) return null;
    if (this.anchor) {
      const lastWordAtMs = this.anchor.nowMs - (this.anchor.audioMs - last * 1000);
      return Math.max(0, Math.round(nowMs - lastWordAtMs));
    }
    if (eventAudioEndSec !== undefined) return Math.max(0, Math.round((eventAudioEndSec - last) * 1000));
    return null;
  }
}
