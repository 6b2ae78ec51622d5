import type { Logger } from '../../core/logger.js';
import type { ProviderEndpoint } from '../endpoints.js';
import { allSkipped } from '../failover.js';
import { asProviderError, type ProviderError } from '../errors.js';
import type { SttEvent, SttOptions, SttPort, SttSession } from './port.js';

/**
 * Speech-to-text behind circuit breakers: a call's session opens on the first
 * endpoint whose breaker admits it (primary, then the secondary when
 * configured). When the open session gives up (`failed`, after the adapter's
 * own reconnect policy), the call moves to the next endpoint instead of losing
 * speech input; the new session's times are shifted onto the call's audio
 * timeline. Audio sent while the failed session was reconnecting is not
 * replayed to the secondary (the caller is re-prompted by the flow if needed).
 */
export interface SttEndpoint {
  endpoint: ProviderEndpoint;
  stt: SttPort;
  /** The secondary's model, replacing the flow's (which names a model of the primary). */
  model?: string | undefined;
}

/** μ-law 8 kHz: one byte per sample. */
const BYTES_PER_SECOND = 8000;

export class FailoverStt implements SttPort {
  constructor(
    private readonly endpoints: readonly SttEndpoint[],
    private readonly logger: Logger,
  ) {}

  /** Throws (like the adapters) when no endpoint can open: no key, or every breaker open. */
  open(options: SttOptions, onEvent: (event: SttEvent) => void, signal?: AbortSignal): SttSession {
    const session = new FailoverSttSession(this.endpoints, options, onEvent, this.logger, signal);
    const error = session.openFrom(0, undefined);
    if (error) throw error;
    return session;
  }
}

class FailoverSttSession implements SttSession {
  private index = -1;
  private current: SttSession | undefined;
  /** Whether the current endpoint's breaker has heard how this session went. */
  private reported = false;
  private totalBytes = 0;
  /** Where the current session's time 0 is on the call's audio timeline, seconds. */
  private offsetSeconds = 0;
  private closed = false;

  constructor(
    private readonly endpoints: readonly SttEndpoint[],
    private readonly options: SttOptions,
    private readonly onEvent: (event: SttEvent) => void,
    private readonly logger: Logger,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Opens the first admitted endpoint from `from`; returns the error when none opened. */
  openFrom(from: number, previous: ProviderError | undefined): ProviderError | undefined {
    let lastError = previous;
    for (let i = from; i < this.endpoints.length; i++) {
      const { endpoint, stt, model } = this.endpoints[i]!;
      if (!endpoint.tryAcquire()) continue;
      // A secondary hears with the flow's secondary model, else its configured one, else the flow's own.
      const { secondaryModel, ...own } = this.options;
      const chosen = endpoint.role === 'secondary' ? (secondaryModel ?? model) : undefined;
      const options = chosen ? { ...own, model: chosen } : own;
      try {
        this.index = i;
        this.reported = false;
        this.offsetSeconds = this.totalBytes / BYTES_PER_SECOND;
        this.current = stt.open(options, (event) => this.onSessionEvent(i, event), this.signal);
        if (previous) this.logger.warn({ stage: 'stt', role: endpoint.role, after: previous.kind }, 'speech-to-text moved to the next endpoint');
        return undefined;
      } catch (err) {
        const error = asProviderError(err, 'stt');
        endpoint.failure(error);
        this.current = undefined;
        lastError = error;
      }
    }
    this.index = -1;
    return lastError ?? allSkipped('stt', this.endpoints);
  }

  sendAudio(mulaw: Uint8Array, atMs?: number): void {
    if (this.closed) return;
    this.totalBytes += mulaw.length;
    this.current?.sendAudio(mulaw, atMs);
  }

  close(): Promise<void> {
    this.closed = true;
    const current = this.current;
    this.current = undefined;
    if (!this.reported && this.index >= 0) this.endpoints[this.index]!.endpoint.release();
    this.reported = true;
    return current?.close() ?? Promise.resolve();
  }

  private onSessionEvent(i: number, event: SttEvent): void {
    // A session left behind (after failover or close) has nothing more to say.
    if (i !== this.index || this.closed) return;
    const { endpoint } = this.endpoints[i]!;
    if (event.type === 'failed') {
      endpoint.failure(event.error);
      this.reported = true;
      const failed = this.current;
      this.current = undefined;
      void failed?.close().catch(() => undefined);
      if (this.signal?.aborted) return;
      const error = this.openFrom(i + 1, event.error);
      if (error) this.onEvent(error === event.error ? event : { type: 'failed', reason: error.message, error });
      return;
    }
    // A reconnect try is the adapter coping with a failure, not the endpoint answering: counting it as
    // success would reset the breaker at every call, so one refusing every stream would never open it.
    if (!this.reported && event.type !== 'reconnecting') {
      // The endpoint answered: it is alive.
      endpoint.success();
      this.reported = true;
    }
    this.onEvent(this.shift(event));
  }

  /** The event's times on the call's audio timeline. */
  private shift(event: SttEvent): SttEvent {
    const o = this.offsetSeconds;
    if (o === 0) return event;
    switch (event.type) {
      case 'transcript':
        return {
          ...event,
          start: event.start + o,
          end: event.end + o,
          ...(event.lastWordEnd !== undefined ? { lastWordEnd: event.lastWordEnd + o } : {}),
        };
      case 'speech_started':
        return { ...event, timestamp: event.timestamp + o };
      case 'utterance_end':
        return { ...event, lastWordEnd: event.lastWordEnd + o };
      default:
        return event;
    }
  }
}
