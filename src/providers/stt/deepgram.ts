import type { DeepgramClient } from '@deepgram/sdk';
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { notConfigured } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { latenessFor, type LoopLateness } from '../../core/loop-lateness.js';
import { DEFAULT_DEADLINE_POLICY, judgeDeadline, ProviderTimer } from '../deadline.js';
import { onDemand } from '../../core/on-demand.js';
import { kindForStatus, ProviderError, type ProviderErrorKind } from '../errors.js';
import { openWsTransport } from './deepgram-transport.js';
import type { SttEvent, SttOptions, SttPort, SttSession } from './port.js';

/**
 * Deepgram Listen v1 live transcription (docs/protocols.md) over
 * `@deepgram/sdk`, with our own reconnect policy (docs/architecture.md). The
 * SDK speaks the wire protocol; its reconnects are off, because one would
 * silently open a new stream whose times restart at 0 and drop the audio sent
 * meanwhile. It carries bytes over the `ws` transport we hand it
 * (deepgram-transport.ts), which reports a refused handshake's HTTP status as
 * a number: the status is how that failure is classified (a refused key must
 * not be retried), and the SDK itself passes it on only as message text.
 *
 * All times in emitted events are on the CALL's audio timeline (seconds since
 * the first byte passed to `sendAudio`), across reconnects.
 */

/** The SDK is loaded with the first adapter that has a key, not at start (docs/architecture.md#memory). */
const deepgramSdk = onDemand<typeof import('@deepgram/sdk')>('@deepgram/sdk');

/** μ-law 8 kHz mono: one byte per sample. */
const BYTES_PER_SECOND = 8000;

export interface DeepgramTiming {
  /** STT connect 3 s — longer and the caller's first words are stale. */
  connectTimeoutMs: number;
  /** Deepgram closes a stream after ~10 s without audio (NET-0001); it recommends KeepAlive every 3–5 s. */
  keepAliveAfterMs: number;
  /** No Deepgram message for 5 s while audio flows means the stream is dead though the socket is open. */
  silenceWatchdogMs: number;
  /** 3 tries within 10 s, then the flow's fallback — past that the caller is better served by it. */
  maxReconnectAttempts: number;
  reconnectWindowMs: number;
  /** Replay at most 5 s — older unfinalised speech is stale for the conversation anyway. */
  maxReplayMs: number;
  /** Delay before try n (index n-1): the first at once, then a little spacing so a flapping network can settle. */
  reconnectBackoffMs: readonly number[];
  /** After CloseStream, how long to wait for the last results and Deepgram's own close. */
  closeGraceMs: number;
  /** Housekeeping period (KeepAlive and watchdog checks); one timer per session. */
  tickMs: number;
}

export const DEEPGRAM_TIMING: DeepgramTiming = {
  connectTimeoutMs: 3000,
  keepAliveAfterMs: 3000,
  silenceWatchdogMs: 5000,
  maxReconnectAttempts: 3,
  reconnectWindowMs: 10_000,
  maxReplayMs: 5000,
  reconnectBackoffMs: [0, 250, 1000],
  closeGraceMs: 1000,
  tickMs: 250,
};

/** Nova-3 is Deepgram's current general model and handles 8 kHz phone audio. */
export const DEFAULT_DEEPGRAM_MODEL = 'nova-3';
/** Silence that ends speech (`speech_final`): short enough to feel responsive, long enough for mid-sentence pauses. */
export const DEFAULT_ENDPOINTING_MS = 300;
/**
 * Caller audio is sent to Deepgram every 40 ms (two Twilio frames) unless the
 * flow says otherwise: half the WebSocket messages and syscalls of sending
 * each 20 ms frame, for at most 20 ms more recognition latency.
 */
export const DEFAULT_STT_SEND_INTERVAL_MS = 40;

/** Caller audio kept for the replay (see sendAudio). */
interface AudioSlab {
  /** Where the slab's first byte lies on the call timeline. */
  at: number;
  data: Uint8Array;
  used: number;
}

/** One second of μ-law per slab. */
const AUDIO_SLAB_BYTES = 8000;

/** Deepgram recommends ≥ 1000 ms; it is the fallback end-of-turn when noise keeps `speech_final` from firing. */
const UTTERANCE_END_MS = 1000;

export interface DeepgramSttConfig {
  /** `DEEPGRAM_API_KEY`; when missing, `open` throws NOT_CONFIGURED naming it. */
  apiKey: string | undefined;
  /** `DEEPGRAM_BASE_URL` (an origin; the SDK appends `/v1/listen`). */
  baseUrl?: string | undefined;
  defaultModel?: string;
  defaultEndpointingMs?: number;
  clock?: Clock;
  logger?: Logger;
  /**
   * How late the event loop has been, summed (src/core/loop-lateness.ts): the deadlines forgive
   * it (docs/architecture.md#timeouts). Default: the process's own on the system clock, none on a
   * manual clock (tests inject one where they need it), as `ProviderTimer` does.
   */
  lateness?: LoopLateness | undefined;
  /** Shorter values for tests. */
  timing?: Partial<DeepgramTiming>;
}

export class DeepgramStt implements SttPort {
  private readonly timing: DeepgramTiming;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly lateness: LoopLateness | undefined;

  constructor(private readonly config: DeepgramSttConfig) {
    this.timing = { ...DEEPGRAM_TIMING, ...config.timing };
    this.clock = config.clock ?? systemClock;
    this.lateness = 'lateness' in config ? config.lateness : latenessFor(this.clock);
    this.logger = (config.logger ?? silentLogger).child({ component: 'stt.deepgram' });
    // Loaded now rather than at the first call's connect, which must not wait for it.
    if (config.apiKey) deepgramSdk();
  }

  /**
   * Starts connecting at once and returns a session that accepts audio right
   * away (buffered until the socket is open). Throws NOT_CONFIGURED when
   * DEEPGRAM_API_KEY is missing; every later problem arrives as a `failed` event.
   */
  open(options: SttOptions, onEvent: (event: SttEvent) => void, signal?: AbortSignal): SttSession {
    if (!this.config.apiKey) throw notConfigured('DEEPGRAM_API_KEY', 'Speech-to-text (Deepgram)');
    const session = new DeepgramSession({
      apiKey: this.config.apiKey,
      baseUrl: this.config.baseUrl ?? DEEPGRAM_DEFAULT_BASE_URL,
      options,
      model: options.model ?? this.config.defaultModel ?? DEFAULT_DEEPGRAM_MODEL,
      endpointingMs: options.endpointingMs ?? this.config.defaultEndpointingMs ?? DEFAULT_ENDPOINTING_MS,
      sendBatchBytes: ((options.sendIntervalMs ?? DEFAULT_STT_SEND_INTERVAL_MS) / 1000) * BYTES_PER_SECOND,
      onEvent,
      signal,
      timing: this.timing,
      clock: this.clock,
      lateness: this.lateness,
      logger: this.logger,
    });
    session.start();
    return session;
  }
}

/** Deepgram's production origin (the SDK's default too); DEEPGRAM_BASE_URL replaces it (a loopback fake in tests). */
export const DEEPGRAM_DEFAULT_BASE_URL = 'wss://api.deepgram.com';

type Socket = Awaited<ReturnType<DeepgramClient['listen']['v1']['connect']>>;

type State = 'connecting' | 'open' | 'reconnecting' | 'failed' | 'closing' | 'closed';

interface SessionDeps {
  apiKey: string;
  baseUrl: string;
  options: SttOptions;
  model: string;
  endpointingMs: number;
  /** Caller audio is sent once this many bytes are waiting (sendIntervalMs × 8). */
  sendBatchBytes: number;
  onEvent: (event: SttEvent) => void;
  signal: AbortSignal | undefined;
  timing: DeepgramTiming;
  clock: Clock;
  /** Summed loop lateness the deadlines forgive; undefined: not measured. */
  lateness: LoopLateness | undefined;
  logger: Logger;
}

class DeepgramSession implements SttSession {
  private state: State = 'connecting';
  private socket: Socket | undefined;
  /** Bumped for every connection attempt; events of older sockets are ignored. */
  private gen = 0;
  /** 0 = initial connection, else the reconnect try in progress. */
  private attempt = 0;
  private attemptStarts: number[] = [];
  private connectTimer: TimerHandle | undefined;
  private backoffTimer: TimerHandle | undefined;
  private tickTimer: TimerHandle | undefined;
  /** What went wrong with the current connection, classified where it was seen. */
  private lastError: ProviderError | undefined;

  /** Audio received from the phone, bytes: the call's audio timeline. */
  private totalBytes = 0;
  /** Recent audio kept for replay: chunks with their position on the call timeline. */
  /**
   * Caller audio is copied into 1 s slabs: one allocation per second of audio
   * and nothing per 20 ms frame. They lie end to end on the call timeline (a
   * frame never straddles two; a slab's unused tail is skipped), and the
   * oldest are dropped once older than the replay needs.
   */
  private slabs: AudioSlab[] = [];
  /** The newest this many bytes of caller audio are not sent on this connection yet: they go together once a batch is full. */
  private unsentBytes = 0;
  /** Audio already covered by an `is_final` result, bytes on the call timeline. */
  private finalCoveredBytes = 0;
  /** Where the current connection's audio starts on the call timeline (its time 0). */
  private connOffsetBytes = 0;

  private lastSentAt = 0;
  private lastAudioAt = Number.NEGATIVE_INFINITY;
  private watchdogFrom = 0;
  /** The loop's summed lateness at `watchdogFrom`: the watchdog forgives what it grew by since (see onTick). */
  private lateAtWatchdogFrom = 0;
  /** Loop lateness the silence watchdog has forgiven since `watchdogFrom` (see onTick). */
  private watchdogForgiven = { from: 0, ms: 0 };
  /** When the housekeeping tick in flight was due: how late the loop ran it. */
  private tickDueAt = 0;

  private closeResolve: (() => void) | undefined;
  private closePromise: Promise<void> | undefined;
  private readonly onAbort = () => this.teardown('closed');

  constructor(private readonly d: SessionDeps) {}

  start(): void {
    if (this.d.signal?.aborted) {
      this.state = 'closed';
      return;
    }
    this.d.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.armTick();
    void this.connect();
  }

  sendAudio(mulaw: Uint8Array, atMs?: number): void {
    if (this.state === 'failed' || this.state === 'closed' || this.state === 'closing' || mulaw.length === 0) return;
    const now = atMs ?? this.d.clock.now();
    // Audio resuming after a pause (hold): Deepgram had nothing to say meanwhile.
    if (now - this.lastAudioAt > this.d.timing.keepAliveAfterMs) this.restartWatchdog(now);
    this.lastAudioAt = now;
    // A copy: the caller's buffer is reused for the next frame, and the slabs outlive it for the replay.
    let slab = this.slabs[this.slabs.length - 1];
    if (!slab || slab.used + mulaw.length > slab.data.length) {
      this.trimSlabs();
      slab = { at: this.totalBytes, data: new Uint8Array(Math.max(AUDIO_SLAB_BYTES, mulaw.length)), used: 0 };
      this.slabs.push(slab);
    }
    slab.data.set(mulaw, slab.used);
    slab.used += mulaw.length;
    this.totalBytes += mulaw.length;
    if (this.state === 'open' && this.socket) {
      this.unsentBytes += mulaw.length;
      if (this.unsentBytes >= this.d.sendBatchBytes) this.flushAudio(now);
    }
  }

  /** Sends the batched caller audio as one message (a view when it sits in one slab, else one copy). */
  private flushAudio(now: number): void {
    if (this.unsentBytes === 0 || !this.socket) return;
    const data = this.audioRange(this.totalBytes - this.unsentBytes, this.totalBytes);
    this.unsentBytes = 0;
    try {
      this.socket.sendMedia(data);
      this.lastSentAt = now;
    } catch (err) {
      // The close event follows; the audio stays in the slabs for the replay.
      this.lastError = sttError('connection', errorText(err));
    }
  }

  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    if (this.state !== 'open' || !this.socket) {
      this.teardown(this.state === 'failed' ? 'failed' : 'closed');
      this.closePromise = Promise.resolve();
      return this.closePromise;
    }
    // The batch still waiting goes first, so the final results cover the caller's last words.
    this.flushAudio(this.d.clock.now());
    this.state = 'closing';
    this.closePromise = new Promise<void>((resolve) => {
      this.closeResolve = resolve;
    });
    try {
      // Deepgram finalises what it has, sends Metadata and closes 1000.
      this.socket.sendCloseStream({ type: 'CloseStream' });
    } catch {
      this.teardown('closed');
      return this.closePromise;
    }
    const gen = this.gen;
    this.connectTimer = this.providerTimeout(this.d.timing.closeGraceMs, () => {
      if (gen === this.gen) this.teardown('closed');
    });
    return this.closePromise;
  }

  // ── connection attempts ─────────────────────────────────────────────

  private async connect(): Promise<void> {
    const gen = ++this.gen;
    const { timing } = this.d;
    this.lastError = undefined;
    this.connectTimer?.cancel();
    this.connectTimer = this.providerTimeout(timing.connectTimeoutMs, (ownLatenessMs) => {
      if (gen === this.gen) this.attemptFailed(sttError('connect_timeout', `no connection within ${timing.connectTimeoutMs} ms`, undefined, ownLatenessMs));
    });
    // A refused handshake, as the transport saw it: the status says whether another try can help.
    let refusal: ProviderError | undefined;
    // One client per attempt, so its transport's report belongs to this attempt and no other.
    const client = new (deepgramSdk().DeepgramClient)({
      apiKey: this.d.apiKey,
      baseUrl: this.d.baseUrl,
      reconnect: false,
      transportFactory: (url, headers) =>
        openWsTransport(url, headers, ({ status, detail }) => {
          refusal = sttError(kindForStatus(status), `Deepgram answered ${status}${detail ? `: ${detail}` : ''}`, status);
        }),
    });
    let socket: Socket;
    try {
      socket = await client.listen.v1.connect({
        model: this.d.model,
        encoding: 'mulaw',
        sample_rate: 8000,
        channels: 1,
        language: this.d.options.language,
        interim_results: 'true',
        endpointing: this.d.endpointingMs,
        utterance_end_ms: UTTERANCE_END_MS,
        vad_events: 'true',
        smart_format: 'true',
        punctuate: 'true',
        // Our policy owns reconnects (see the file comment).
        reconnectAttempts: 0,
        shouldReconnect: () => false,
        // The SDK's own timer is a backstop; ours (on the injectable clock) decides.
        connectionTimeoutInSeconds: Math.ceil(timing.connectTimeoutMs / 1000) + 1,
      });
    } catch (err) {
      if (gen === this.gen) this.attemptFailed(sttError('connection', errorText(err)));
      return;
    }
    if (gen !== this.gen) {
      closeQuietly(socket);
      return;
    }
    this.socket = socket;
    socket.on('open', () => gen === this.gen && this.onOpen());
    // The SDK parses Deepgram's JSON text frames.
    socket.on('message', (msg: unknown) => gen === this.gen && this.onMessage(msg));
    socket.on('error', (err: Error) => {
      if (gen !== this.gen) return;
      this.lastError = refusal ?? sttError('connection', errorText(err));
      // The SDK drops a transport after its error and never reports that transport's close.
      if (this.state === 'open') this.connectionLost(this.lastError);
      else if (this.state === 'closing') this.teardown('closed');
      else this.attemptFailed(this.lastError);
    });
    socket.on('close', (ev: { code: number; reason?: string }) => gen === this.gen && this.onClose(ev));
    try {
      socket.connect();
    } catch (err) {
      this.attemptFailed(sttError('connection', errorText(err)));
    }
  }

  private onOpen(): void {
    const now = this.d.clock.now();
    this.connectTimer?.cancel();
    const reconnected = this.attempt > 0;
    this.state = 'open';
    this.restartWatchdog(now);
    this.lastSentAt = now;
    // Replay what no final covers yet, at most the last maxReplayMs; this
    // connection's time 0 is where the replay starts.
    const maxReplayBytes = (this.d.timing.maxReplayMs / 1000) * BYTES_PER_SECOND;
    const from = Math.max(this.finalCoveredBytes, this.totalBytes - maxReplayBytes, this.slabs[0]?.at ?? this.totalBytes, 0);
    this.connOffsetBytes = from;
    // The replay covers every byte so far, a half-filled batch included; in batch-sized messages, like live audio.
    this.unsentBytes = 0;
    const step = Math.max(1, this.d.sendBatchBytes);
    for (let at = from; at < this.totalBytes; at += step) this.socket!.sendMedia(this.audioRange(at, Math.min(at + step, this.totalBytes)));
    if (reconnected) {
      this.d.logger.info(
        { attempt: this.attempt, replayMs: Math.round(((this.totalBytes - from) / BYTES_PER_SECOND) * 1000) },
        'deepgram reconnected',
      );
      const attempt = this.attempt;
      this.attempt = 0;
      this.emit({ type: 'reconnected', attempt });
    }
  }

  private onClose(ev: { code: number; reason?: string }): void {
    this.socket = undefined;
    if (this.state === 'closing') return this.teardown('closed');
    const why = `closed ${ev.code}${ev.reason ? ` ${ev.reason}` : ''}${this.lastError ? ` (${this.lastError.message})` : ''}`;
    if (this.state === 'open') {
      if (ev.code === 1000) {
        // Deepgram only closes normally after CloseStream; anything else is a lost stream too.
        this.d.logger.warn({ code: ev.code }, 'deepgram closed the stream unexpectedly');
      }
      return this.connectionLost(this.lastError ?? sttError('connection', why));
    }
    if (this.state === 'connecting' || this.state === 'reconnecting') {
      this.attemptFailed(this.lastError ?? sttError('connection', why));
    }
  }

  /** The reconnect policy reads only the classification: a refusal another try cannot fix fails at once. */
  private attemptFailed(error: ProviderError): void {
    if (this.state !== 'connecting' && this.state !== 'reconnecting') return;
    this.invalidateSocket();
    if (!error.retryable) {
      const message =
        error.kind === 'auth'
          ? `Deepgram rejected the API key (DEEPGRAM_API_KEY): ${error.message}`
          : `Deepgram refused the stream: ${error.message}`;
      return this.fail(sttError(error.kind, message, error.status, error.ownLatenessMs));
    }
    this.d.logger.warn(
      { attempt: this.attempt, kind: error.kind, status: error.status, reason: error.message, ownLatenessMs: error.ownLatenessMs },
      'deepgram connection attempt failed',
    );
    this.scheduleReconnect(error);
  }

  private connectionLost(error: ProviderError): void {
    this.d.logger.warn({ kind: error.kind, reason: error.message, ownLatenessMs: error.ownLatenessMs }, 'deepgram stream lost');
    this.invalidateSocket();
    this.scheduleReconnect(error);
  }

  /** Our policy: at most maxReconnectAttempts tries within reconnectWindowMs, then `failed`. */
  private scheduleReconnect(error: ProviderError): void {
    const { timing, clock } = this.d;
    const now = clock.now();
    this.attemptStarts = this.attemptStarts.filter((t) => now - t < timing.reconnectWindowMs);
    if (this.attemptStarts.length >= timing.maxReconnectAttempts) {
      return this.fail(
        // The last error decides; one taken while our loop was late says so to the breaker (countsAgainstEndpoint).
        sttError(
          error.kind,
          `Deepgram unavailable after ${this.attemptStarts.length} reconnect tries: ${error.message}`,
          error.status,
          error.ownLatenessMs,
        ),
      );
    }
    this.attempt = this.attemptStarts.length + 1;
    const delayMs = timing.reconnectBackoffMs[this.attempt - 1] ?? timing.reconnectBackoffMs.at(-1) ?? 0;
    this.attemptStarts.push(now + delayMs);
    this.state = 'reconnecting';
    this.emit({ type: 'reconnecting', attempt: this.attempt });
    this.backoffTimer?.cancel();
    this.backoffTimer = clock.setTimeout(() => {
      if (this.state === 'reconnecting') void this.connect();
    }, delayMs);
  }

  private fail(error: ProviderError): void {
    this.d.logger.error({ kind: error.kind, status: error.status, reason: error.message }, 'deepgram failed');
    this.teardown('failed');
    this.emit({ type: 'failed', reason: error.message, error });
  }

  private invalidateSocket(): void {
    this.gen++;
    this.connectTimer?.cancel();
    const s = this.socket;
    this.socket = undefined;
    if (s) closeQuietly(s);
  }

  private teardown(final: 'failed' | 'closed'): void {
    const wasLive = this.state !== 'failed' && this.state !== 'closed';
    this.state = final;
    this.invalidateSocket();
    this.backoffTimer?.cancel();
    this.tickTimer?.cancel();
    this.slabs = [];
    this.d.signal?.removeEventListener('abort', this.onAbort);
    if (wasLive || this.closeResolve) {
      this.closeResolve?.();
      this.closeResolve = undefined;
    }
  }

  // ── housekeeping ────────────────────────────────────────────────────

  /**
   * A Deepgram deadline that fails only when Deepgram is late, not our loop (src/providers/deadline.ts);
   * `onExpire` gets the loop's lateness beyond what it forgave (ProviderError.ownLatenessMs).
   */
  private providerTimeout(ms: number, onExpire: (ownLatenessMs: number) => void): TimerHandle {
    const timer: ProviderTimer = new ProviderTimer(this.d.clock, () => onExpire(timer.unforgivenLateMs), DEFAULT_DEADLINE_POLICY, this.d.lateness);
    timer.arm(ms);
    return timer;
  }

  /** Deepgram's silence is counted from now (a message, audio resuming, a new connection). */
  private restartWatchdog(now: number): void {
    this.watchdogFrom = now;
    if (this.d.lateness) this.lateAtWatchdogFrom = this.d.lateness.totalMs();
  }

  private armTick(): void {
    this.tickDueAt = this.d.clock.now() + this.d.timing.tickMs;
    this.tickTimer = this.d.clock.setTimeout(this.tick, this.d.timing.tickMs);
  }

  /** One function for every tick of the session (four a second), not a closure each. */
  private readonly tick = (): void => {
    if (this.state === 'failed' || this.state === 'closed') return;
    this.onTick();
    this.armTick();
  };

  private onTick(): void {
    if (this.state !== 'open' || !this.socket) return;
    const now = this.d.clock.now();
    const { keepAliveAfterMs, silenceWatchdogMs } = this.d.timing;
    const audioFlowing = now - this.lastAudioAt < keepAliveAfterMs;
    if (this.watchdogForgiven.from !== this.watchdogFrom) {
      this.watchdogForgiven.from = this.watchdogFrom;
      this.watchdogForgiven.ms = 0;
    }
    if (audioFlowing && now - this.watchdogFrom >= silenceWatchdogMs + this.watchdogForgiven.ms) {
      // Deepgram's messages may be waiting unread behind our busy loop, even when this tick runs on time:
      // the watchdog forgives the tick's own lateness or the loop's summed over the watch, whichever is more.
      // The sampler is read only here (a stall suspected), not on every tick.
      const loopLateMs = this.d.lateness ? this.d.lateness.totalMs() - this.lateAtWatchdogFrom : undefined;
      const verdict = judgeDeadline(
        { from: this.watchdogFrom, budgetMs: silenceWatchdogMs, forgivenMs: this.watchdogForgiven.ms },
        { now, dueAt: this.tickDueAt, loopLateMs },
      );
      if (verdict.kind === 'expired') {
        const silentMs = Math.round(now - this.watchdogFrom);
        return this.connectionLost(sttError('stall', `no message for ${silentMs} ms while audio flows`, undefined, verdict.unforgivenLateMs));
      }
      this.watchdogForgiven.ms = verdict.state.forgivenMs;
    }
    if (now - this.lastSentAt >= keepAliveAfterMs) {
      try {
        // Text frame: a binary KeepAlive is a known cause of stalls (docs/protocols.md#deepgram-audio-and-control).
        this.socket.sendKeepAlive({ type: 'KeepAlive' });
        this.lastSentAt = now;
      } catch (err) {
        this.lastError = sttError('connection', errorText(err));
      }
    }
  }

  /** Drops the slabs wholly older than the replay can reach (called when a slab is added: once a second). */
  private trimSlabs(): void {
    // The batch not sent yet stays too, however short the replay.
    const keepFrom = this.totalBytes - Math.max((this.d.timing.maxReplayMs / 1000) * BYTES_PER_SECOND, this.unsentBytes);
    let drop = 0;
    while (drop < this.slabs.length && this.slabs[drop]!.at + this.slabs[drop]!.used <= keepFrom) drop++;
    if (drop > 0) this.slabs.splice(0, drop);
  }

  /** Caller audio [from, to) on the call timeline: a view when it lies in one slab, else a copy. */
  private audioRange(from: number, to: number): Uint8Array {
    const slabs = this.slabs;
    let i = slabs.length - 1;
    while (i > 0 && slabs[i]!.at > from) i--;
    const first = slabs[i]!;
    if (to <= first.at + first.used) return first.data.subarray(from - first.at, to - first.at);
    const out = new Uint8Array(to - from);
    for (let o = 0; o < out.length; i++) {
      const slab = slabs[i]!;
      const start = from + o - slab.at;
      const piece = slab.data.subarray(start, Math.min(slab.used, start + out.length - o));
      out.set(piece, o);
      o += piece.length;
    }
    return out;
  }

  // ── messages ────────────────────────────────────────────────────────

  private onMessage(raw: unknown): void {
    this.restartWatchdog(this.d.clock.now());
    if (!raw || typeof raw !== 'object') return;
    const msg = raw as Record<string, unknown>;
    const offset = this.connOffsetBytes / BYTES_PER_SECOND;
    switch (msg.type) {
      case 'Results': {
        const alt = (msg.channel as { alternatives?: unknown[] } | undefined)?.alternatives?.[0] as
          | { transcript?: unknown; words?: { end?: unknown }[] }
          | undefined;
        const start = offset + num(msg.start);
        const end = start + num(msg.duration);
        const isFinal = msg.is_final === true;
        const lastWord = alt?.words?.at(-1);
        if (isFinal) {
          this.finalCoveredBytes = Math.max(this.finalCoveredBytes, Math.round(end * BYTES_PER_SECOND));
        }
        this.emit({
          type: 'transcript',
          text: typeof alt?.transcript === 'string' ? alt.transcript : '',
          isFinal,
          speechFinal: msg.speech_final === true,
          start: round3(start),
          end: round3(end),
          ...(lastWord && typeof lastWord.end === 'number' ? { lastWordEnd: round3(offset + lastWord.end) } : {}),
        });
        return;
      }
      case 'SpeechStarted':
        this.emit({ type: 'speech_started', timestamp: round3(offset + num(msg.timestamp)) });
        return;
      case 'UtteranceEnd':
        this.emit({ type: 'utterance_end', lastWordEnd: round3(offset + num(msg.last_word_end)) });
        return;
      case 'Error':
        this.d.logger.warn({ variant: msg.variant, description: msg.description }, 'deepgram reported an error');
        return;
      default:
        // Metadata and types this code does not know yet.
        return;
    }
  }

  private emit(event: SttEvent): void {
    try {
      this.d.onEvent(event);
    } catch (err) {
      this.d.logger.error({ err, event: event.type }, 'stt event handler threw');
    }
  }
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const round3 = (s: number): number => Math.round(s * 1000) / 1000;

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}

function closeQuietly(socket: Socket): void {
  // Late events of a socket we let go are ignored (the generation moved on); the transport keeps an error listener.
  try {
    socket.close();
  } catch {
    // already closed
  }
}

/** `ownLatenessMs`: our loop's lateness beyond what the deadline forgave; such an error does not count against the breaker. */
function sttError(kind: ProviderErrorKind, message: string, status?: number, ownLatenessMs?: number): ProviderError {
  return new ProviderError('deepgram', 'stt', kind, message, status).withOwnLateness(ownLatenessMs);
}
