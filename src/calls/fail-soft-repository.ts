import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { CallRecord } from './call-record.js';
import type { CallRepository } from './repository.js';
import type { SharedStateHealth } from './shared-state-health.js';

/**
 * Live call records that outlast the shared store (Redis) going away mid-call
 * (docs/reliability.md#infrastructure-faults).
 *
 * Every record this process writes is also kept here, as it was last stored. When the
 * shared store fails a read or a write, the call is served from that copy: a change is
 * applied to it and queued, in order, so the caller hears no difference and no change is
 * lost. About once a second, and at once when the store answers again, queued changes are
 * replayed through the store's own compare-and-set, so changes other processes made
 * meanwhile are kept too. A record the store no longer has (a Redis restarted empty) is
 * written back from the copy. A change whose write reached Redis but whose answer was lost
 * with the connection is applied again on replay: the ledger adds a turn or a stream once
 * (src/calls/calls.ts), a counter may count one more.
 *
 * Only calls this process wrote are covered: another process's call cannot be read while
 * the store is down, and a new call cannot be created (the webhook answers with an error;
 * Twilio's fallback URL, if set, takes it).
 */
export const REPLAY_INTERVAL_MS = 1_000;
/**
 * Copies kept, newest first; older ones without queued changes are let go. A call answered
 * here whose stream went to another process ends there, and its copy here would never be.
 */
export const MAX_LOCAL_RECORDS = 10_000;

type Change = (record: CallRecord) => void;

export class FailSoftCallRepository implements CallRepository {
  /** This process's copy of each record it wrote, as last stored or changed. */
  private readonly local = new Map<string, CallRecord>();
  /** Changes not yet in the shared store, per call, in the order they were made. */
  private readonly pending = new Map<string, Change[]>();
  private timer: TimerHandle | undefined;
  private replaying: Promise<void> | undefined;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly inner: CallRepository,
    private readonly deps: { health: SharedStateHealth; clock: Pick<Clock, 'setTimeout'>; logger: Logger },
  ) {
    this.unsubscribe = deps.health.onRecovered(() => void this.replay());
  }

  /** Changes waiting for the shared store (the `/ready` backlog). */
  get backlog(): number {
    let n = 0;
    for (const changes of this.pending.values()) n += changes.length;
    return n;
  }

  async createIfAbsent(record: CallRecord): Promise<{ record: CallRecord; created: boolean }> {
    const result = await this.attempt('create', () => this.inner.createIfAbsent(record));
    this.keep(result.record);
    return result;
  }

  async get(callSid: string): Promise<CallRecord | undefined> {
    if (this.waiting(callSid)) return structuredClone(this.local.get(callSid)!);
    try {
      // A read never replaces the copy: it may be older than a write that finished meanwhile.
      const record = await this.attempt('read', () => this.inner.get(callSid));
      const mine = this.local.get(callSid);
      return record ?? (mine ? structuredClone(mine) : undefined);
    } catch (err) {
      const mine = this.local.get(callSid);
      if (mine) return structuredClone(mine);
      throw err;
    }
  }

  async peek(callSid: string): Promise<Readonly<CallRecord> | undefined> {
    if (this.waiting(callSid)) return this.local.get(callSid)!;
    try {
      const record = await this.attempt('read', () => this.inner.peek(callSid));
      return record ?? this.local.get(callSid);
    } catch (err) {
      const mine = this.local.get(callSid);
      if (mine) return mine;
      throw err;
    }
  }

  async update(callSid: string, change: Change): Promise<CallRecord | undefined> {
    // Order matters: while earlier changes wait, later ones wait behind them.
    if (this.waiting(callSid)) return this.defer(callSid, change);
    let stored: CallRecord | undefined;
    try {
      stored = await this.attempt('write', () => this.inner.update(callSid, change));
    } catch (err) {
      if (!this.local.has(callSid)) throw err;
      return this.defer(callSid, change);
    }
    // The copy is read after the write, never before: another change may have replaced or changed it meanwhile.
    if (stored) {
      // A write that was under way when the store went away, and got through: later changes already
      // wait on the copy, which must have this one too (the store gets them on top of it).
      if (this.waiting(callSid)) change(this.local.get(callSid)!);
      else this.keep(stored);
      return stored;
    }
    const mine = this.local.get(callSid);
    if (!mine) return undefined;
    // The store lost a call this process holds (a Redis restarted empty): put it back, changed.
    change(mine);
    try {
      await this.attempt('restore', () => this.inner.createIfAbsent(structuredClone(mine)));
      this.deps.logger.warn({ callSid }, 'live call record missing from the shared state; written back from this process’s copy');
    } catch {
      // Already applied to the copy: an empty change makes the replay write it back.
      this.queue(callSid, () => {});
    }
    return structuredClone(this.local.get(callSid) ?? mine);
  }

  async list(options?: { includeEnded?: boolean }): Promise<CallRecord[]> {
    try {
      return await this.attempt('list', () => this.inner.list(options));
    } catch {
      // This process's calls only: another's cannot be read while the store is down.
      return [...this.local.values()].filter((r) => options?.includeEnded || r.state !== 'ended').map((r) => structuredClone(r));
    }
  }

  /** Writes every queued change now (called on recovery, on a timer, and by tests). */
  replay(): Promise<void> {
    this.replaying ??= this.replayOnce().finally(() => {
      this.replaying = undefined;
      if (this.pending.size > 0) this.schedule();
    });
    return this.replaying;
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.unsubscribe();
  }

  private async replayOnce(): Promise<void> {
    for (const [callSid, changes] of [...this.pending]) {
      const count = changes.length;
      const batch = changes.slice(0, count);
      const apply = (r: CallRecord) => {
        for (const c of batch) c(r);
      };
      let stored: CallRecord | undefined;
      try {
        stored = await this.attempt('replay', () => this.inner.update(callSid, apply));
        if (!stored) {
          // Gone from the store: our copy already has every change applied.
          stored = structuredClone(this.local.get(callSid)!);
          await this.attempt('restore', () => this.inner.createIfAbsent(stored!));
        }
      } catch {
        return; // still down: the timer tries again
      }
      changes.splice(0, count);
      if (changes.length === 0) {
        this.pending.delete(callSid);
        this.keep(stored!);
      }
      this.deps.logger.info({ callSid, changes: count }, 'live call changes made while the shared state was down are written');
    }
  }

  /** Changes for this call wait for the store: its copy is the truth until they are written. */
  private waiting(callSid: string): boolean {
    return this.pending.has(callSid) && this.local.has(callSid);
  }

  private defer(callSid: string, change: Change): CallRecord {
    const mine = this.local.get(callSid)!;
    change(mine);
    this.queue(callSid, change);
    return structuredClone(mine);
  }

  private queue(callSid: string, change: Change): void {
    const changes = this.pending.get(callSid);
    if (changes) changes.push(change);
    else this.pending.set(callSid, [change]);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = undefined;
      void this.replay();
    }, REPLAY_INTERVAL_MS);
  }

  /** Keeps the stored record as this process's copy; an ended, fully written call is let go. */
  private keep(record: CallRecord): void {
    // While changes wait, the copy is ahead of anything read from the store: keep it.
    if (this.pending.has(record.callSid)) return;
    this.local.delete(record.callSid);
    if (record.state === 'ended') return;
    this.local.set(record.callSid, structuredClone(record));
    if (this.local.size <= MAX_LOCAL_RECORDS) return;
    for (const callSid of this.local.keys()) {
      if (this.local.size <= MAX_LOCAL_RECORDS) break;
      if (!this.pending.has(callSid)) this.local.delete(callSid);
    }
  }

  private async attempt<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      const result = await op();
      this.deps.health.ok();
      return result;
    } catch (err) {
      this.deps.health.failed(`call record ${what}`, err);
      throw err;
    }
  }
}
