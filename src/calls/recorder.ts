import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { CallRecord } from './call-record.js';
import type { CallEvent, CallEventBus } from './events.js';
import type { CallHistory } from './history.js';
import type { CallRepository } from './repository.js';

/**
 * Writes the live call ledger through to the call history (SQL), off the audio
 * path: every event marks its call dirty and is queued; a flush, at most every
 * `flushDelayMs`, saves each dirty call's current record once (several calls a
 * write) and appends the queued events in batches. The live ledger only emits on state changes,
 * turns, nodes and keys, never per media frame, so writes stay few.
 */

/** Batches a burst of events (a turn ends, a node is entered, a mark returns) into one write per call. */
export const CALL_HISTORY_FLUSH_DELAY_MS = 250;
/** A database outage keeps at most this many events queued; older ones are dropped with an error log. */
export const CALL_HISTORY_MAX_QUEUED_EVENTS = 50_000;
/**
 * SQLite writes are synchronous: a flush of hundreds of calls in one go held
 * the event loop for tens of ms, and live calls' audio waited. A flush gives
 * the loop back whenever it has run this long.
 */
export const CALL_HISTORY_SLICE_MS = 2;
/** Events per INSERT transaction, so a burst is written in slices too. */
export const CALL_HISTORY_EVENTS_PER_WRITE = 200;
/**
 * Call records per write (one multi-row upsert): one statement and one commit for them all,
 * where a write per call committed, and on SQLite synced the disk, once per call. Small
 * enough that one write stays within about a slice.
 */
export const CALL_HISTORY_SAVES_PER_WRITE = 10;

/** Lets timers and I/O run (setImmediate: after pending I/O, unlike a resolved promise). */
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

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
  private lastWriteFailed = false;

  constructor(private readonly options: CallRecorderOptions) {
    this.flushDelayMs = options.flushDelayMs ?? CALL_HISTORY_FLUSH_DELAY_MS;
    this.unsubscribe = options.bus.subscribe((event) => this.onEvent(event));
  }

  /** Events waiting for the next flush. */
  get pending(): number {
    return this.queued.length;
  }

  /** The last write failed (the database is down or refusing): what is queued waits for a retry. */
  get failing(): boolean {
    return this.lastWriteFailed;
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
    const clock = this.options.clock;
    let sliceFrom = clock.now();
    const maybeYield = async () => {
      if (clock.now() - sliceFrom < CALL_HISTORY_SLICE_MS) return;
      await yieldToLoop();
      sliceFrom = clock.now();
    };
    const failedCalls: string[] = [];
    for (let i = 0; i < calls.length; i += CALL_HISTORY_SAVES_PER_WRITE) {
      const chunk = calls.slice(i, i + CALL_HISTORY_SAVES_PER_WRITE);
      // Not copies: nothing here changes them, and `saveAll` serializes them before its first
      // await. A record changed in place meanwhile is stored as changed: newer, and saved again
      // with the next flush anyway (its change marked it dirty).
      const records: Readonly<CallRecord>[] = [];
      const read: string[] = [];
      for (const callSid of chunk) {
        try {
          const record = await this.options.live.peek(callSid);
          if (record) {
            records.push(record);
            read.push(callSid);
          }
        } catch (err) {
          failedCalls.push(callSid);
          this.options.logger.warn({ err, callSid }, 'reading a call record failed; saving it with the next flush');
        }
      }
      try {
        await this.options.history.saveAll(records);
      } catch (err) {
        failedCalls.push(...read);
        this.options.logger.warn({ err, callSids: read }, 'saving call records failed; retrying with the next flush');
      }
      await maybeYield();
    }
    let unwritten: CallEvent[] = [];
    for (let i = 0; i < events.length; i += CALL_HISTORY_EVENTS_PER_WRITE) {
      const batch = events.slice(i, i + CALL_HISTORY_EVENTS_PER_WRITE);
      try {
        await this.options.history.appendEvents(batch);
      } catch (err) {
        // This batch and the ones after it wait for the next flush; earlier batches are stored.
        unwritten = events.slice(i);
        this.options.logger.warn({ err, count: unwritten.length }, 'saving call events failed; retrying with the next flush');
        break;
      }
      await maybeYield();
    }
    this.lastWriteFailed = failedCalls.length > 0 || unwritten.length > 0;
    if (failedCalls.length > 0 || unwritten.length > 0) {
      if (unwritten.length > 0) this.queued = [...unwritten, ...this.queued];
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
