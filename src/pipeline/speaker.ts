import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { mulawDurationMs } from '../core/audio/mulaw.js';
import { applyPronunciations, type PronunciationRule } from '../flow/pronunciations.js';
import { splitSentences } from '../flow/sentences.js';
import { asProviderError, type ProviderError } from '../providers/errors.js';
import type { TtsPort, VoiceSpec } from '../providers/tts/port.js';
import type { CallPlayout, SegmentOutcome, TurnId } from './playout.js';

/**
 * Speech out for one call: text → segments (a cached phrase, or one TTS stream
 * per sentence) → playout. The next sentence is requested as soon as it is
 * complete, with at most two TTS requests in flight; audio still plays in
 * order because the playout sends segments in the order they were opened.
 */

/** TTS requests running at once per call: the next sentence is ready when this one ends, without flooding the provider (docs/architecture.md#a-call-end-to-end). */
export const MAX_TTS_IN_FLIGHT = 2;
/**
 * If the last mark has not returned this long after the audio should have
 * finished playing, stop waiting: a lost mark must not freeze the call.
 */
export const MARK_GRACE_MS = 2_000;

/** Audio for static phrases (docs/architecture.md#static-phrase-cache); keyed by the spoken text and the voice. */
export interface PhraseSource {
  get(spokenText: string, voice: VoiceSpec): Promise<Uint8Array | undefined>;
}

export interface SpeakerDeps {
  playout: CallPlayout;
  tts: TtsPort;
  phrases: PhraseSource;
  voice: VoiceSpec;
  pronunciations: readonly PronunciationRule[];
  clock: Clock;
  logger: Logger;
  /** Counters for the call record. */
  onTtsRequest?: () => void;
  /** The first audio chunk of a TTS request arrived (metrics: ttsFirstByteMs). */
  onTtsFirstByte?: () => void;
  onCachedPhrase?: () => void;
}

export interface SpeakOptions {
  turn: number;
  interruptible: boolean;
  cacheable: boolean;
  /** The turn's signal: aborted with a StopReason (barge-in, hang-up, shutdown, …). */
  signal: AbortSignal;
}

export type SpeakOutcome = SegmentOutcome | 'aborted' | 'tts_failed' | 'timed_out';

export interface SpeakResult {
  outcome: SpeakOutcome;
  /** The original text of every segment opened, joined (before pronunciations). */
  text: string;
  /** Each segment's original text, in order. */
  segments?: string[];
  /** Every segment came from the phrase cache. */
  cached: boolean;
  error?: ProviderError;
}

async function* once(text: string): AsyncIterable<string> {
  yield text;
}

export class Speaker {
  constructor(private readonly deps: SpeakerDeps) {}

  /** Plays one cached phrase as a segment of its own; false if it is not cached. */
  async playCached(
    turn: TurnId,
    text: string,
    signal: AbortSignal,
    options: { interruptible?: boolean } = {},
  ): Promise<SpeakResult | undefined> {
    const audio = await this.deps.phrases.get(applyPronunciations(text, this.deps.pronunciations), this.deps.voice);
    if (!audio) return undefined;
    this.deps.onCachedPhrase?.();
    if (signal.aborted) return { outcome: 'aborted', text, segments: [text], cached: true };
    const name = this.deps.playout.playSegment({ turn, segment: 0, text, interruptible: options.interruptible ?? false }, audio);
    const outcome = await this.waitPlayed(name, mulawDurationMs(audio.length), signal);
    return { outcome, text, segments: [text], cached: true };
  }

  async speak(text: string | AsyncIterable<string>, options: SpeakOptions): Promise<SpeakResult> {
    const { playout } = this.deps;
    const { turn, interruptible, signal } = options;
    // A cacheable phrase is one segment: the cache key is the whole rendered text.
    const sentences = typeof text === 'string' ? (options.cacheable ? once(text) : splitSentences(once(text))) : splitSentences(text);
    const inFlight = new Set<Promise<void>>();
    const spokenText: string[] = [];
    let segment = 0;
    let lastName: string | undefined;
    let totalBytes = 0;
    let cached = true;
    let failure: ProviderError | undefined;
    const stop = new AbortController();
    const onAbort = () => stop.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });

    const synthesize = async (name: string, spoken: string) => {
      this.deps.onTtsRequest?.();
      let first = true;
      try {
        for await (const chunk of this.deps.tts.synthesize({ text: spoken, voice: this.deps.voice, signal: stop.signal })) {
          if (stop.signal.aborted) break;
          if (first && chunk.length > 0) {
            first = false;
            this.deps.onTtsFirstByte?.();
          }
          totalBytes += chunk.length;
          if (!playout.pushAudio(name, chunk)) break;
        }
      } catch (err) {
        if (!stop.signal.aborted) {
          failure = asProviderError(err, 'tts');
          this.deps.logger.warn({ kind: failure.kind, status: failure.status, err: failure.message }, 'TTS failed');
          stop.abort(failure);
        }
      } finally {
        playout.endSegment(name);
      }
    };

    // An abort ends the wait for the next sentence at once: a barge-in must not
    // wait for the reply's text source (an LLM stream) to produce more.
    const iterator = sentences[Symbol.asyncIterator]();
    const stopped = new Promise<IteratorResult<string>>((resolve) => {
      const done = () => resolve({ done: true, value: undefined });
      if (stop.signal.aborted) done();
      else stop.signal.addEventListener('abort', done, { once: true });
    });
    let exhausted = false;
    try {
      for (;;) {
        const pending = iterator.next();
        // A source that fails after the abort has nobody left to tell.
        pending.catch(() => undefined);
        const next = await Promise.race([pending, stopped]);
        if (next.done) {
          exhausted = !stop.signal.aborted;
          break;
        }
        const sentence = next.value;
        if (stop.signal.aborted) break;
        while (inFlight.size >= MAX_TTS_IN_FLIGHT) await Promise.race(inFlight);
        if (stop.signal.aborted) break;
        const name = playout.openSegment({ turn, segment: segment++, text: sentence, interruptible });
        lastName = name;
        spokenText.push(sentence);
        const spoken = applyPronunciations(sentence, this.deps.pronunciations);
        const audio = options.cacheable ? await this.deps.phrases.get(spoken, this.deps.voice) : undefined;
        if (audio) {
          this.deps.onCachedPhrase?.();
          totalBytes += audio.length;
          playout.pushAudio(name, audio);
          playout.endSegment(name);
          continue;
        }
        cached = false;
        const task: Promise<void> = synthesize(name, spoken).finally(() => inFlight.delete(task));
        inFlight.add(task);
      }
      await Promise.all(inFlight);
    } catch (err) {
      exhausted = true;
      // The text source itself failed (an LLM stream): what was opened still plays out.
      if (!stop.signal.aborted) this.deps.logger.warn({ err }, 'speech text source failed');
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (!exhausted) void iterator.return?.()?.catch(() => undefined);
    }

    const joined = spokenText.join(' ');
    const segments = [...spokenText];
    if (failure) return { outcome: 'tts_failed', text: joined, segments, cached: false, error: failure };
    if (signal.aborted) return { outcome: 'aborted', text: joined, segments, cached };
    if (!lastName) return { outcome: 'played', text: joined, segments, cached };
    const outcome = await this.waitPlayed(lastName, mulawDurationMs(totalBytes), signal);
    return { outcome, text: joined, segments, cached: cached && segment > 0 };
  }

  /**
   * Waits for the segment's mark, bounded by its audio length + grace so a
   * lost mark cannot hold the call (e.g. `end` hangs up anyway).
   */
  private waitPlayed(name: string, audioMs: number, signal: AbortSignal): Promise<SpeakOutcome> {
    return new Promise<SpeakOutcome>((resolve) => {
      let settled = false;
      const done = (o: SpeakOutcome) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        signal.removeEventListener('abort', onAbort);
        resolve(o);
      };
      const onAbort = () => done('aborted');
      const timer = this.deps.clock.setTimeout(() => done('timed_out'), audioMs + MARK_GRACE_MS);
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) return done('aborted');
      this.deps.playout.whenSegmentDone(name).then(done, () => done('closed'));
    });
  }
}
