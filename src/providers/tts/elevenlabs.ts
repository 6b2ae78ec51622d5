import type { ElevenLabsClient } from '@elevenlabs/elevenlabs-js';
import { systemClock, type Clock } from '../../core/clock.js';
import { onDemand } from '../../core/on-demand.js';
import { DEFAULT_DEADLINE_POLICY, ProviderTimer, retryBudgetLeftMs } from '../deadline.js';
import { latenessFor, type LoopLateness } from '../../core/loop-lateness.js';
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
/**
 * One try, and once more at once when the connection failed before any audio: a kept-alive
 * socket the server had closed fails that way, and the SDK's own retries (which would cover it)
 * are off so that our timers decide. Without it one stale socket ended the call (`tts_failed`).
 */
export const ELEVENLABS_MAX_ATTEMPTS = 2;

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
  /** Our loop's summed lateness (src/core/loop-lateness.ts); the process's on the system clock, none on another. */
  lateness?: LoopLateness | undefined;
}

export class ElevenLabsTts implements TtsPort {
  private readonly client: ElevenLabsClient | undefined;
  private readonly clock: Clock;
  private readonly firstByteTimeoutMs: number;
  private readonly chunkTimeoutMs: number;
  private readonly optimizeStreamingLatency: number | undefined;
  private readonly lateness: LoopLateness | undefined;

  constructor(options: ElevenLabsTtsOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.lateness = 'lateness' in options ? options.lateness : latenessFor(this.clock);
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
    if (!this.client) {
      throw ttsError('not_configured', 'text-to-speech needs ELEVENLABS_API_KEY to be set');
    }
    if (request.signal?.aborted) return;
    // The first-byte budget spans both tries, and forgives our loop's lateness since the first began.
    const startedAt = this.clock.now();
    const lateAtStart = this.lateness?.totalMs() ?? 0;
    for (let attempt = 1; ; attempt++) {
      const progress = { audio: false };
      try {
        yield* this.attempt(this.client, request, startedAt, lateAtStart, progress);
        return;
      } catch (err) {
        const retry =
          err instanceof ProviderError &&
          err.kind === 'connection' &&
          !progress.audio &&
          attempt < ELEVENLABS_MAX_ATTEMPTS &&
          !request.signal?.aborted &&
          retryBudgetLeftMs(startedAt, this.firstByteTimeoutMs, this.clock.now(), this.lateness, lateAtStart) > 0;
        if (!retry) throw err;
      }
    }
  }

  private async *attempt(
    client: ElevenLabsClient,
    request: TtsRequest,
    startedAt: number,
    lateAtStart: number,
    progress: { audio: boolean },
  ): AsyncIterable<Uint8Array> {
    const { text, voice, signal } = request;
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut: ProviderError | undefined;
    let onTimeout: (() => ProviderError) | undefined;
    // Fails only when ElevenLabs is late, not our loop nor our consumer (src/providers/deadline.ts).
    const timer: ProviderTimer = new ProviderTimer(
      this.clock,
      () => {
        // Our loop's lateness beyond what the deadline forgave: the breaker does not count this one.
        timedOut = onTimeout!().withOwnLateness(timer.unforgivenLateMs);
        controller.abort(timedOut);
      },
      DEFAULT_DEADLINE_POLICY,
      this.lateness,
    );
    const arm = (ms: number, error: () => ProviderError, from?: number, lateAtFrom?: number) => {
      onTimeout = error;
      timer.arm(ms, from, lateAtFrom);
    };
    const disarm = () => timer.cancel();

    let finished = false;
    try {
      arm(this.firstByteTimeoutMs, () => ttsError('first_byte_timeout', `no audio from ElevenLabs within ${this.firstByteTimeoutMs} ms`), startedAt, lateAtStart);
      const audio = await client.textToSpeech.stream(
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
        progress.audio = true;
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
