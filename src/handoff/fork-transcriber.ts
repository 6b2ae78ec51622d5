import type { Logger } from '../core/logger.js';
import type { SttEvent, SttPort, SttSession } from '../providers/stt/port.js';

/**
 * Transcribes the audio fork of a call a person is handling (docs/handoff.md#the-audio-fork):
 * `inbound` is what the caller says, `outbound` what the caller hears, which
 * is the person. One speech-to-text connection per track, so the two voices
 * are never mixed into one transcript. A turn is the final transcripts since
 * the last turn, closed by `speech_final` or `UtteranceEnd`, as for the AI's
 * own listening.
 */
export type ForkSpeaker = 'caller' | 'staff';

export interface ForkTurn {
  speaker: ForkSpeaker;
  text: string;
}

export interface ForkTranscriberDeps {
  stt: SttPort;
  language: string;
  model?: string;
  logger: Logger;
  onTurn(turn: ForkTurn): void;
}

const SPEAKER_OF: Record<'inbound' | 'outbound', ForkSpeaker> = { inbound: 'caller', outbound: 'staff' };

class TrackTranscript {
  private finals: string[] = [];
  private readonly session: SttSession;

  constructor(
    stt: SttPort,
    options: { language: string; model?: string },
    private readonly speaker: ForkSpeaker,
    private readonly onTurn: (turn: ForkTurn) => void,
    private readonly logger: Logger,
    signal: AbortSignal,
  ) {
    this.session = stt.open(options, (e) => this.onEvent(e), signal);
  }

  send(mulaw: Uint8Array): void {
    this.session.sendAudio(mulaw);
  }

  private onEvent(e: SttEvent): void {
    if (e.type === 'transcript') {
      if (e.isFinal && e.text.trim()) this.finals.push(e.text.trim());
      if (e.isFinal && e.speechFinal) this.flush();
    } else if (e.type === 'utterance_end') this.flush();
    else if (e.type === 'failed') this.logger.warn({ speaker: this.speaker, reason: e.reason }, 'fork transcription failed');
  }

  /** Whatever was said and not yet a turn becomes one (end of speech, or the fork stopping). */
  flush(): void {
    if (this.finals.length === 0) return;
    const text = this.finals.join(' ');
    this.finals = [];
    this.onTurn({ speaker: this.speaker, text });
  }

  async close(): Promise<void> {
    this.flush();
    await this.session.close();
  }
}

export class ForkTranscriber {
  private readonly tracks = new Map<'inbound' | 'outbound', TrackTranscript>();
  private readonly abort = new AbortController();
  private closed = false;

  constructor(private readonly deps: ForkTranscriberDeps) {}

  /** Audio of one track; the track's connection opens on its first audio. */
  audio(track: string, mulaw: Uint8Array): void {
    if (this.closed || (track !== 'inbound' && track !== 'outbound')) return;
    let t = this.tracks.get(track);
    if (!t) {
      const { stt, language, model, logger, onTurn } = this.deps;
      t = new TrackTranscript(stt, { language, ...(model ? { model } : {}) }, SPEAKER_OF[track], onTurn, logger, this.abort.signal);
      this.tracks.set(track, t);
    }
    t.send(mulaw);
  }

  /** The fork stopped: the last words become turns, then both connections close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.tracks.values()].map((t) => t.close()));
    this.abort.abort('hangup');
  }
}

/**
 * A fork sink usable at once while its transcriber is still being set up (the
 * call's language is looked up): audio until then is kept, then passed on.
 */
export class DeferredFork {
  private target: ForkTranscriber | undefined;
  private readonly early: { track: string; mulaw: Uint8Array }[] = [];
  private closed = false;
  private readonly ready: Promise<void>;

  constructor(open: Promise<ForkTranscriber | undefined>) {
    this.ready = open.then(
      (t) => {
        this.target = t;
        for (const a of this.early.splice(0)) t?.audio(a.track, a.mulaw);
        if (this.closed) void t?.close();
      },
      () => undefined,
    );
  }

  audio(track: string, mulaw: Uint8Array): void {
    if (this.closed) return;
    if (this.target) this.target.audio(track, mulaw);
    else this.early.push({ track, mulaw });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.ready;
    await this.target?.close();
  }
}
