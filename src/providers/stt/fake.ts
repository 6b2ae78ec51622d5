import { notConfigured } from '../../core/errors.js';
import type { ProviderError } from '../errors.js';
import type { SttEvent, SttOptions, SttPort, SttSession } from './port.js';

/**
 * An in-process SttPort for tests and offline tools: no sockets. Tests read the
 * audio each session received and make the caller "speak" with `say` (the
 * event sequence Deepgram would send for it, on the session's audio clock) or
 * push any SttEvent with `emit`. For wire-level tests use the loopback fake
 * Deepgram server with the real adapter instead.
 */
export class FakeSttSession implements SttSession {
  bytesReceived = 0;
  closed = false;
  readonly chunks: Uint8Array[] = [];

  constructor(
    readonly options: SttOptions,
    private readonly onEvent: (event: SttEvent) => void,
  ) {}

  /** Audio received so far, seconds (8000 bytes = 1 s). */
  get audioSeconds(): number {
    return this.bytesReceived / 8000;
  }

  sendAudio(mulaw: Uint8Array): void {
    if (this.closed) return;
    this.bytesReceived += mulaw.length;
    this.chunks.push(Uint8Array.from(mulaw));
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  emit(event: SttEvent): void {
    if (!this.closed) this.onEvent(event);
  }

  /**
   * The caller says `text`, ending now on the audio clock: SpeechStarted, an
   * interim, the final (speech_final unless `speechFinal: false`) and, unless
   * `utteranceEnd: false`, UtteranceEnd.
   */
  say(text: string, opts: { wordMs?: number; speechFinal?: boolean; utteranceEnd?: boolean } = {}): void {
    const wordMs = opts.wordMs ?? 300;
    const count = text.split(/\s+/).filter(Boolean).length;
    const end = this.audioSeconds;
    const start = Math.max(0, end - (count * wordMs) / 1000);
    const lastWordEnd = Math.max(start, end - 0.06);
    this.emit({ type: 'speech_started', timestamp: start });
    this.emit({ type: 'transcript', text, isFinal: false, speechFinal: false, start, end, lastWordEnd });
    this.emit({ type: 'transcript', text, isFinal: true, speechFinal: opts.speechFinal ?? true, start, end, lastWordEnd });
    if (opts.utteranceEnd ?? true) this.emit({ type: 'utterance_end', lastWordEnd });
  }
}

export class FakeStt implements SttPort {
  readonly sessions: FakeSttSession[] = [];

  /**
   * `configured: false` behaves like a missing DEEPGRAM_API_KEY; `failure`
   * makes every session fail with it right after opening, as the real adapter
   * reports a refused or unreachable provider once its policy gives up.
   */
  constructor(private readonly opts: { configured?: boolean; failure?: ProviderError } = {}) {}

  open(options: SttOptions, onEvent: (event: SttEvent) => void, signal?: AbortSignal): FakeSttSession {
    if (this.opts.configured === false) throw notConfigured('DEEPGRAM_API_KEY', 'Speech-to-text (Deepgram)');
    const session = new FakeSttSession(options, onEvent);
    signal?.addEventListener('abort', () => void session.close(), { once: true });
    this.sessions.push(session);
    const failure = this.opts.failure;
    if (failure) {
      queueMicrotask(() => {
        session.emit({ type: 'failed', reason: failure.message, error: failure });
        void session.close();
      });
    }
    return session;
  }

  latest(): FakeSttSession | undefined {
    return this.sessions.at(-1);
  }
}
