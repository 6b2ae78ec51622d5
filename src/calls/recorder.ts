import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { CallEvent, CallEventBus } from './events.js';
import type { CallHistory } from './history.js';
import type { CallRepository } from './repository.js';

/**
 * Writes the live call ledger through to the call history (SQL), off the audio
 * path: every event marks its call dirty and is queued; a flush, at most every
 * `flushDelayMs`, saves each dirty call's current record once and appends the
 * queued events in one batch. The live ledger only emits on state changes,
 * turns, nodes and keys, never per media frame, so writes stay few.
 */

/** Batches a burst of events (a turn ends, a node is entered, a mark returns) into one write per call. */
export const CALL_HISTORY_FLUSH_DELAY_MS = 250;
/** A database outage keeps at most this many events queued; older ones are dropped with an error log. */
export const CALL_HISTORY_MAX_QUEUED_EVENTS = 50_000;

export interface CallRecorderOptions {
  live: CallRepository;
  bus: CallEventBus;
  history: CallHistory;
  clock: Clock;
  logger: Logger;
  flushDelayMs?: number;
}

export class CallRecorder {
  private readonly flushDelayMs: number;
  private queued: CallEvent[] = [];
  private dirty = new Set<string>();
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(private readonly options: CallRecorderOptions) {
    this.flushDelayMs = options.flushDelayMs ?? CALL_HISTORY_FLUSH_DELAY_MS;
    this.unsubscribe = options.bus.subscribe((event) => this.onEvent(event));
  }

  /** Events waiting for the next flush. */
  get pending(): number {
    return this.queued.length;
  }

  /**
   * Writes everything queued so far; resolves when it is stored (or the write
   * failed and was re-queued). Reads of the history call this first, so an API
   * client sees its call at once.
   */
  async flush(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    // One flush at a time keeps each call's writes in order.
    while (this.running) await this.running;
    if (this.queued.length === 0 && this.dirty.size === 0) return;
    this.running = this.write().finally(() => {
      this.running = undefined;
    });
    await this.running;
  }

  /** Stops listening and writes what is left (shutdown). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    await this.flush();
  }

  private onEvent(event: CallEvent): void {
    this.queued.push(event);
    this.dirty.add(event.callSid);
    if (this.queued.length > CALL_HISTORY_MAX_QUEUED_EVENTS) {
      const dropped = this.queued.splice(0, this.queued.length - CALL_HISTORY_MAX_QUEUED_EVENTS);
      this.options.logger.error({ dropped: dropped.length }, 'call history is not being written; oldest events dropped');
    }
    if (!this.timer && !this.closed) {
      this.timer = this.options.clock.setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.flushDelayMs);
    }
  }

  private async write(): Promise<void> {
    const events = this.queued;
    const calls = [...this.dirty];
    this.queued = [];
    this.dirty = new Set();
    const failedCalls: string[] = [];
    for (const callSid of calls) {
      try {
        // The record as it is now: later changes are covered by the events that marked it dirty again.
        const record = await this.options.live.get(callSid);
        if (record) await this.options.history.save(record);
      } catch (err) {
        failedCalls.push(callSid);
        this.options.logger.warn({ err, callSid }, 'saving a call record failed; retrying with the next flush');
      }
    }
    let eventsFailed = false;
    try {
      await this.options.history.appendEvents(events);
    } catch (err) {
      eventsFailed = true;
      this.options.logger.warn({ err, count: events.length }, 'saving call events failed; retrying with the next flush');
    }
    if (failedCalls.length > 0 || eventsFailed) {
      // Nothing is lost: back in front of whatever arrived meanwhile, tried again later.
      if (eventsFailed) this.queued = [...events, ...this.queued];
      for (const c of failedCalls) this.dirty.add(c);
      if (!this.timer && !this.closed) {
        this.timer = this.options.clock.setTimeout(() => {
          this.timer = undefined;
          void this.flush();
        }, this.flushDelayMs * 4);
      }
    }
  }
}
