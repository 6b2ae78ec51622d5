import type { ElevenLabsClient } from '@elevenlabs/elevenlabs-js';
import { systemClock, type Clock } from '../../core/clock.js';
import { onDemand } from '../../core/on-demand.js';
import { ProviderTimer } from '../deadline.js';
import { kindForStatus, ProviderError, type ProviderErrorKind } from '../errors.js';
import type { TtsPort, TtsRequest, VoiceSpec } from './port.js';

/**
 * ElevenLabs HTTP streaming TTS (docs/protocols.md#streaming-tts) as a TtsPort: text in,
 * `ulaw_8000` chunks out as they arrive. The SDK's own timeout stops counting
 * once response headers arrive, so the first-byte and between-chunk limits are
 * ours (docs/architecture.md#timeouts). An abort through the caller's signal ends the
 * stream quietly; everything else becomes a ProviderError classified here.
 */

/**
 * First audio byte within 2 s: a phone caller hears the gap, and ElevenLabs'
 * flash models normally answer in well under 500 ms, so longer means trouble.
 */
export const ELEVENLABS_FIRST_BYTE_TIMEOUT_MS = 2000;
/** Then at most 2 s between chunks: the playout holds only ~300 ms, so a longer gap is a stall. */
export const ELEVENLABS_CHUNK_TIMEOUT_MS = 2000;
/**
 * A backstop for the SDK's whole-request timer (its default is 240 s); our own
 * timers fire long before it.
 */
const SDK_REQUEST_TIMEOUT_S = 60;

export const ELEVENLABS_OUTPUT_FORMAT = 'ulaw_8000';

/**
 * The SDK (its root loads every ElevenLabs API and schema: the largest package we use) is
 * loaded when a client is built (ELEVENLABS_API_KEY set), not at start (docs/architecture.md#memory).
 */
const elevenLabsSdk = onDemand<typeof import('@elevenlabs/elevenlabs-js')>('@elevenlabs/elevenlabs-js');

export interface ElevenLabsTtsOptions {
  /** ELEVENLABS_API_KEY; without it every synthesis fails with `not_configured`. */
  apiKey?: string;
  /** ELEVENLABS_BASE_URL (an origin); the SDK's production URL when unset. */
  baseUrl?: string;
  clock?: Clock;
  firstByteTimeoutMs?: number;
  chunkTimeoutMs?: number;
  /** `optimize_streaming_latency` 0–4 (deprecated by ElevenLabs; sent only when set). */
  optimizeStreamingLatency?: number;
}

export class ElevenLabsTts implements TtsPort {
  private readonly client: ElevenLabsClient | undefined;
  private readonly clock: Clock;
  private readonly firstByteTimeoutMs: number;
  private readonly chunkTimeoutMs: number;
  private readonly optimizeStreamingLatency: number | undefined;

  constructor(options: ElevenLabsTtsOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.firstByteTimeoutMs = options.firstByteTimeoutMs ?? ELEVENLABS_FIRST_BYTE_TIMEOUT_MS;
    this.chunkTimeoutMs = options.chunkTimeoutMs ?? ELEVENLABS_CHUNK_TIMEOUT_MS;
    this.optimizeStreamingLatency = options.optimizeStreamingLatency;
    this.client = options.apiKey
      ? new (elevenLabsSdk().ElevenLabsClient)({
          apiKey: options.apiKey,
          ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
          maxRetries: 0,
          timeoutInSeconds: SDK_REQUEST_TIMEOUT_S,
        })
      : undefined;
  }

  async *synthesize(request: TtsRequest): AsyncIterable<Uint8Array> {
    const { text, voice, signal } = request;
    if (!this.client) {
      throw ttsError('not_configured', 'text-to-speech needs ELEVENLABS_API_KEY to be set');
    }
    if (signal?.aborted) return;

    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut: ProviderError | undefined;
    let onTimeout: (() => ProviderError) | undefined;
    // Fails only when ElevenLabs is late, not our loop nor our consumer (src/providers/deadline.ts).
    const timer: ProviderTimer = new ProviderTimer(this.clock, () => {
      timedOut = onTimeout!();
      // Our loop's lateness beyond what the deadline forgave: the breaker does not count this one.
      if (timer.unforgivenLateMs > 0) timedOut.ownLatenessMs = timer.unforgivenLateMs;
      controller.abort(timedOut);
    });
    const arm = (ms: number, error: () => ProviderError) => {
      onTimeout = error;
      timer.arm(ms);
    };
    const disarm = () => timer.cancel();

    let finished = false;
    try {
      arm(this.firstByteTimeoutMs, () => ttsError('first_byte_timeout', `no audio from ElevenLabs within ${this.firstByteTimeoutMs} ms`));
      const audio = await this.client.textToSpeech.stream(
        voice.voiceId,
        {
          text,
          modelId: voice.modelId,
          outputFormat: ELEVENLABS_OUTPUT_FORMAT,
          ...(this.optimizeStreamingLatency !== undefined ? { optimizeStreamingLatency: this.optimizeStreamingLatency } : {}),
          ...voiceSettingsOf(voice),
          ...(voice.language ? { languageCode: isoLanguage(voice.language) } : {}),
        },
        { abortSignal: controller.signal, maxRetries: 0 },
      );
      let streaming = false;
      for await (const chunk of audio) {
        if (chunk.byteLength === 0) continue;
        // The timer measures ElevenLabs, not our consumer: its deadline does not count while we wait at `yield`.
        timer.hold();
        yield chunk;
        if (signal?.aborted) return;
        if (!streaming) {
          // After the first chunk: the between-chunk budget, from now.
          streaming = true;
          arm(this.chunkTimeoutMs, () => ttsError('stall', `ElevenLabs sent nothing for ${this.chunkTimeoutMs} ms mid-stream`));
        } else {
          // One timer stays armed across chunks (none made and cleared per chunk): its budget restarts from now.
          timer.release();
        }
      }
      finished = true;
    } catch (err) {
      if (timedOut) throw timedOut;
      if (signal?.aborted) return;
      throw toTtsError(err);
    } finally {
      disarm();
      signal?.removeEventListener('abort', onAbort);
      // A consumer that stops early (break, return) must not leave the HTTP response open.
      if (!finished && !controller.signal.aborted) controller.abort();
    }
  }
}

function voiceSettingsOf(voice: VoiceSpec): { voiceSettings?: { stability?: number; similarityBoost?: number; speed?: number } } {
  const settings = {
    ...(voice.stability !== undefined ? { stability: voice.stability } : {}),
    ...(voice.similarityBoost !== undefined ? { similarityBoost: voice.similarityBoost } : {}),
    ...(voice.speed !== undefined ? { speed: voice.speed } : {}),
  };
  return Object.keys(settings).length > 0 ? { voiceSettings: settings } : {};
}

/** ElevenLabs takes ISO 639-1 (`en`); flows carry BCP-47 (`en-US`). */
export function isoLanguage(language: string): string {
  return language.split(/[-_]/)[0]!.toLowerCase();
}

function ttsError(kind: ProviderErrorKind, message: string, status?: number): ProviderError {
  return new ProviderError('elevenlabs', 'tts', kind, message, status);
}

/** The adapter's edge: every failure is classified here, once, from the SDK's error classes and the HTTP status. */
function toTtsError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  // Only reached with a client built, so the SDK is loaded already.
  const { ElevenLabsError, ElevenLabsTimeoutError } = elevenLabsSdk();
  if (err instanceof ElevenLabsTimeoutError) return ttsError('connection', 'ElevenLabs request timed out');
  if (err instanceof ElevenLabsError && err.statusCode !== undefined) {
    return ttsError(kindForStatus(err.statusCode), `ElevenLabs answered ${err.statusCode}${describeDetail(err.body)}`, err.statusCode);
  }
  const message = err instanceof Error ? err.message : String(err);
  return ttsError('connection', `ElevenLabs connection failed: ${message}`);
}

/** ElevenLabs errors are `{ detail: { status, message } }`, or FastAPI's list for 422. */
function describeDetail(body: unknown): string {
  if (!body || typeof body !== 'object' || !('detail' in body)) return '';
  const detail = (body as { detail: unknown }).detail;
  if (typeof detail === 'string') return `: ${detail}`;
  if (Array.isArray(detail)) {
    const msgs = detail.map((d) => (d && typeof d === 'object' && 'msg' in d ? String((d as { msg: unknown }).msg) : '')).filter(Boolean);
    return msgs.length ? `: ${msgs.join('; ')}` : '';
  }
  if (detail && typeof detail === 'object' && 'message' in detail) return `: ${String((detail as { message: unknown }).message)}`;
  return '';
}
