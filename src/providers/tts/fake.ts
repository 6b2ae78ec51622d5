import { systemClock, type Clock } from '../../core/clock.js';
import { FAKE_SPEECH_BYTES_PER_CHAR, fakeSpeech } from '../../core/audio/tone.js';
import { ProviderError } from '../errors.js';
import type { TtsPort, TtsRequest } from './port.js';

/**
 * In-process TtsPort for tests and the text chat: deterministic μ-law (a quiet
 * tone, 80 bytes per character, the same bytes the loopback ElevenLabs sends),
 * with knobs for delays (through the Clock), errors and stalls. Honours the
 * port's contract: ends quietly on abort, throws ProviderError otherwise.
 */

export interface FakeTtsOptions {
  clock?: Clock;
  bytesPerChar?: number;
  /** Size of each yielded chunk (default 1000: deliberately not a frame multiple). */
  chunkBytes?: number;
  firstByteDelayMs?: number;
  /** Delay before every chunk after the first. */
  chunkDelayMs?: number;
  /** Fail the request (before any byte, or after `errorAfterBytes`). */
  error?: ProviderError | ((request: TtsRequest) => ProviderError | undefined);
  errorAfterBytes?: number;
  /** Yield this many bytes, then wait until aborted (or until a `timeouts` limit fires). */
  stallAfterBytes?: number;
  /**
   * Fail a stall the way the real adapter does, on the clock: no first byte
   * within `firstByteMs` is `first_byte_timeout`, no next chunk within
   * `chunkMs` is `stall`. Off by default: a stall then lasts until aborted.
   */
  timeouts?: { firstByteMs: number; chunkMs: number };
}

export class FakeTts implements TtsPort {
  /** Every request, in order (texts after pronunciations). */
  readonly requests: TtsRequest[] = [];
  private options: FakeTtsOptions;
  private readonly clock: Clock;

  constructor(options: FakeTtsOptions = {}) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
  }

  /** Changes knobs for later requests. */
  configure(options: Partial<FakeTtsOptions>): void {
    this.options = { ...this.options, ...options };
  }

  get texts(): string[] {
    return this.requests.map((r) => r.text);
  }

  async *synthesize(request: TtsRequest): AsyncIterable<Uint8Array> {
    const o = this.options;
    const { signal } = request;
    if (signal?.aborted) return;
    this.requests.push(request);
    const error = typeof o.error === 'function' ? o.error(request) : o.error;
    const audio = fakeSpeech(request.text, o.bytesPerChar ?? FAKE_SPEECH_BYTES_PER_CHAR);
    const chunkBytes = Math.max(1, o.chunkBytes ?? 1000);
    try {
      if (o.firstByteDelayMs) await this.clock.sleep(o.firstByteDelayMs, signal);
      if (error && !o.errorAfterBytes) throw error;
      const stallAt = o.stallAfterBytes ?? Infinity;
      const failAt = error && o.errorAfterBytes !== undefined ? o.errorAfterBytes : Infinity;
      for (let offset = 0; offset < audio.length; ) {
        if (offset > 0 && o.chunkDelayMs) await this.clock.sleep(o.chunkDelayMs, signal);
        if (offset >= failAt) throw error;
        if (offset >= stallAt) await this.stall(offset, signal);
        if (signal?.aborted) return;
        const end = Math.min(offset + chunkBytes, audio.length, offset < stallAt ? stallAt : Infinity, failAt);
        yield audio.subarray(offset, end);
        offset = end;
        if (signal?.aborted) return;
      }
      if (error && o.errorAfterBytes !== undefined) throw error;
    } catch (err) {
      if (signal?.aborted && !(err instanceof ProviderError)) return;
      throw err;
    }
  }

  /** A stall: until aborted, or until the configured limit fires as the real adapter's would. */
  private async stall(offset: number, signal: AbortSignal | undefined): Promise<never> {
    const limits = this.options.timeouts;
    if (!limits) return untilAborted(signal);
    const ms = offset === 0 ? limits.firstByteMs : limits.chunkMs;
    await this.clock.sleep(ms, signal);
    throw offset === 0
      ? new ProviderError('fake', 'tts', 'first_byte_timeout', `no audio within ${ms} ms`)
      : new ProviderError('fake', 'tts', 'stall', `nothing for ${ms} ms mid-stream`);
  }
}

function untilAborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (!signal) return; // a stall without a signal never ends, like a hung server
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
