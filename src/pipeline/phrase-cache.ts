import { createHash } from 'node:crypto';
import { systemClock, type Clock } from '../core/clock.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { ProviderError } from '../providers/errors.js';
import type { TtsPort, VoiceSpec } from '../providers/tts/port.js';

/**
 * Static-phrase cache (docs/architecture.md#static-phrase-cache): audio for phrases that render without
 * per-call variables, keyed by content (text after pronunciations, voice, model,
 * voice settings, language, format) and never by flow version, so re-publishing
 * an unchanged greeting costs nothing. A 64 MB in-memory LRU (by bytes) sits in
 * front of a persistent store (SQL `tts_cache`), shared by every process.
 */

/** The only audio format the phone leg uses; part of the key so another format never collides. */
export const TTS_CACHE_FORMAT = 'ulaw_8000';
/** 64 MB ≈ 2.3 hours of μ-law: every phrase of many flows, small next to the process. */
export const DEFAULT_PHRASE_MEMORY_BYTES = 64 * 1024 * 1024;
/** Four syntheses at once fill a flow quickly without tripping ElevenLabs' concurrency limits. */
export const PHRASE_WARM_CONCURRENCY = 4;
/** Activation waits this long for the served version's phrases, then goes on: a slow TTS must not block the API. */
export const ACTIVATION_WARM_TIMEOUT_MS = 15_000;

export interface TtsCacheEntry {
  key: string;
  /** Hash of the voice part of the key (voice, model, settings, language, format): lets an operator purge one voice. */
  voiceKey: string;
  /** The text as synthesized (after pronunciations). */
  text: string;
  audio: Uint8Array;
}

/** Persistent phrase store; the SQL implementation is src/store/tts-cache-repository.ts. */
export interface TtsCacheStore {
  get(key: string): Promise<Uint8Array | undefined>;
  /** Content-addressed: an existing key is left as it is. */
  put(entry: TtsCacheEntry): Promise<void>;
  /** Records a use (for later eviction of phrases no flow speaks any more). */
  touch?(key: string): Promise<void>;
}

function sha256(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

function voiceParts(voice: VoiceSpec, format: string): unknown[] {
  // Explicit order and nulls: the key must not depend on how the object was built.
  return [
    voice.voiceId,
    voice.modelId,
    { stability: voice.stability ?? null, similarityBoost: voice.similarityBoost ?? null, speed: voice.speed ?? null },
    voice.language,
    format,
  ];
}

export function voiceKey(voice: VoiceSpec, format = TTS_CACHE_FORMAT): string {
  return sha256(voiceParts(voice, format));
}

/** sha256 of (text after pronunciations, voiceId, modelId, voice settings, language, format). */
export function phraseKey(text: string, voice: VoiceSpec, format = TTS_CACHE_FORMAT): string {
  return sha256([text, ...voiceParts(voice, format)]);
}

export interface WarmResult {
  /** Distinct phrases asked for. */
  total: number;
  /** Already cached (memory or store). */
  cached: number;
  synthesized: number;
  failed: number;
  /** `timeoutMs` passed first; the remaining work goes on in the background. */
  timedOut: boolean;
  errors: { text: string; message: string }[];
}

export interface WarmOptions {
  /** Stop waiting after this long (the fills continue). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface PhraseCacheOptions {
  tts: TtsPort;
  store: TtsCacheStore;
  maxMemoryBytes?: number;
  concurrency?: number;
  clock?: Clock;
  logger?: Logger;
}

interface Flight {
  promise: Promise<Uint8Array>;
  controller: AbortController;
  waiters: number;
}

export class PhraseCache {
  private readonly tts: TtsPort;
  private readonly store: TtsCacheStore;
  private readonly maxMemoryBytes: number;
  private readonly concurrency: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  /** Insertion order = recency: the first entry is the least recently used. */
  private readonly memory = new Map<string, Uint8Array>();
  private bytesInMemory = 0;
  private readonly inflight = new Map<string, Flight>();

  constructor(options: PhraseCacheOptions) {
    this.tts = options.tts;
    this.store = options.store;
    this.maxMemoryBytes = options.maxMemoryBytes ?? DEFAULT_PHRASE_MEMORY_BYTES;
    this.concurrency = Math.max(1, options.concurrency ?? PHRASE_WARM_CONCURRENCY);
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
  }

  key(text: string, voice: VoiceSpec): string {
    return phraseKey(text, voice);
  }

  /** Whether the phrase's audio is cached, in memory or in the store. */
  async has(key: string): Promise<boolean> {
    return (await this.lookup(key)) !== undefined;
  }

  /**
   * Cached audio for a spoken text (after pronunciations), or undefined: never
   * synthesizes. This is the `PhraseSource` the call's speaker uses.
   */
  async get(text: string, voice: VoiceSpec): Promise<Uint8Array | undefined> {
    return this.lookup(this.key(text, voice));
  }

  /**
   * Cached audio, or synthesizes the whole phrase, stores it and returns it.
   * Concurrent requests for one phrase share a single synthesis. Resolves
   * undefined only when `signal` aborts; TTS failures reject with ProviderError.
   */
  async getOrSynthesize(text: string, voice: VoiceSpec, options: { signal?: AbortSignal } = {}): Promise<Uint8Array | undefined> {
    const { signal } = options;
    if (signal?.aborted) return undefined;
    const key = this.key(text, voice);
    const hit = await this.lookup(key);
    if (hit) return hit;
    if (signal?.aborted) return undefined;
    let flight = this.inflight.get(key);
    if (!flight) flight = this.startFlight(key, text, voice);
    flight.waiters++;
    const current = flight;
    try {
      return await raceAbort(current.promise, signal);
    } finally {
      current.waiters--;
      // Nobody wants it any more: stop paying for it.
      if (current.waiters === 0 && this.inflight.get(key) === current) current.controller.abort();
    }
  }

  /**
   * Fills every missing phrase, at most `concurrency` at a time, and reports the
   * counts. Used at publish (background), activation (`timeoutMs` 15 s) and
   * start-up before /ready. Failures are counted, never thrown.
   */
  async warm(phrases: readonly string[], voice: VoiceSpec, options: WarmOptions = {}): Promise<WarmResult> {
    const unique = [...new Set(phrases)];
    const result: WarmResult = { total: unique.length, cached: 0, synthesized: 0, failed: 0, timedOut: false, errors: [] };
    let next = 0;
    const worker = async () => {
      while (next < unique.length && !options.signal?.aborted) {
        const text = unique[next++]!;
        try {
          if (await this.has(this.key(text, voice))) {
            result.cached++;
            continue;
          }
          const audio = await this.getOrSynthesize(text, voice, options.signal ? { signal: options.signal } : {});
          if (audio) result.synthesized++;
        } catch (err) {
          result.failed++;
          result.errors.push({ text, message: err instanceof Error ? err.message : String(err) });
          this.logger.warn({ err, kind: err instanceof ProviderError ? err.kind : undefined }, 'could not cache a static phrase');
        }
      }
    };
    const all = Promise.all(Array.from({ length: Math.min(this.concurrency, unique.length) }, worker)).then(() => ({ ...result }));
    if (options.timeoutMs === undefined) return all;
    let timer: { cancel(): void } | undefined;
    const timeout = new Promise<WarmResult>((resolve) => {
      timer = this.clock.setTimeout(() => resolve({ ...result, errors: [...result.errors], timedOut: true }), options.timeoutMs!);
    });
    try {
      return await Promise.race([all, timeout]);
    } finally {
      timer?.cancel();
    }
  }

  /** Bytes of audio held in memory. */
  get memoryBytes(): number {
    return this.bytesInMemory;
  }

  get memoryEntries(): number {
    return this.memory.size;
  }

  private async lookup(key: string): Promise<Uint8Array | undefined> {
    const inMemory = this.memory.get(key);
    if (inMemory) {
      this.memory.delete(key);
      this.memory.set(key, inMemory);
      return inMemory;
    }
    let stored: Uint8Array | undefined;
    try {
      stored = await this.store.get(key);
    } catch (err) {
      // A store outage must not silence a call: the phrase is synthesized live instead.
      this.logger.warn({ err }, 'phrase store read failed');
      return undefined;
    }
    if (!stored) return undefined;
    this.remember(key, stored);
    this.store.touch?.(key).catch((err: unknown) => this.logger.warn({ err }, 'phrase store touch failed'));
    return stored;
  }

  private startFlight(key: string, text: string, voice: VoiceSpec): Flight {
    const controller = new AbortController();
    const flight: Flight = {
      controller,
      waiters: 0,
      promise: this.synthesizeAndStore(key, text, voice, controller.signal).finally(() => {
        if (this.inflight.get(key) === flight) this.inflight.delete(key);
      }),
    };
    // Waiters that gave up leave the promise unobserved; its failure is theirs, already handled.
    flight.promise.catch(() => {});
    this.inflight.set(key, flight);
    return flight;
  }

  private async synthesizeAndStore(key: string, text: string, voice: VoiceSpec, signal: AbortSignal): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let length = 0;
    for await (const chunk of this.tts.synthesize({ text, voice, signal, exactVoice: true })) {
      chunks.push(chunk);
      length += chunk.length;
    }
    // The port ends quietly on abort: what we have is partial and must not be cached.
    if (signal.aborted) throw new PhraseAbortedError();
    if (length === 0) throw new ProviderError('unknown', 'tts', 'server_error', `TTS returned no audio for a static phrase`);
    const audio = new Uint8Array(length);
    let offset = 0;
    for (const c of chunks) {
      audio.set(c, offset);
      offset += c.length;
    }
    this.remember(key, audio);
    try {
      await this.store.put({ key, voiceKey: voiceKey(voice), text, audio });
    } catch (err) {
      this.logger.warn({ err }, 'phrase store write failed; kept in memory only');
    }
    return audio;
  }

  private remember(key: string, audio: Uint8Array): void {
    if (audio.length > this.maxMemoryBytes) return;
    const old = this.memory.get(key);
    if (old) {
      this.memory.delete(key);
      this.bytesInMemory -= old.length;
    }
    this.memory.set(key, audio);
    this.bytesInMemory += audio.length;
    for (const [k, v] of this.memory) {
      if (this.bytesInMemory <= this.maxMemoryBytes) break;
      this.memory.delete(k);
      this.bytesInMemory -= v.length;
    }
  }
}

class PhraseAbortedError extends Error {
  constructor() {
    super('phrase synthesis aborted');
    this.name = 'AbortError';
  }
}

/** The promise's value, or undefined as soon as the signal aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** An in-memory TtsCacheStore for tests and for runs without SQL. */
export class MemoryTtsCacheStore implements TtsCacheStore {
  readonly entries = new Map<string, TtsCacheEntry & { createdAtMs: number; lastUsedAtMs: number }>();
  gets = 0;
  puts = 0;

  constructor(private readonly clock: Clock = systemClock) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    this.gets++;
    return this.entries.get(key)?.audio;
  }

  async put(entry: TtsCacheEntry): Promise<void> {
    this.puts++;
    if (this.entries.has(entry.key)) return;
    const now = this.clock.wallNow();
    this.entries.set(entry.key, { ...entry, audio: entry.audio.slice(), createdAtMs: now, lastUsedAtMs: now });
  }

  async touch(key: string): Promise<void> {
    const e = this.entries.get(key);
    if (e) e.lastUsedAtMs = this.clock.wallNow();
  }
}
