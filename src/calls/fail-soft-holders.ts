import type { Logger } from '../core/logger.js';
import type { CallHolders } from './holders.js';
import type { ProcessRegistry } from './process-watch.js';
import type { SharedStateHealth } from './shared-state-health.js';

/**
 * Call holders and heartbeats that outlast the shared store (Redis) going away mid-call.
 *
 * Taking or releasing a call never fails the call: when the store cannot be reached, this
 * process remembers which calls it holds and writes that once the store answers again (the
 * first heartbeat that gets through). Every call it holds is written again then, because a
 * Redis restarted empty has forgotten them, and with them how another process would find
 * the calls if this one died. Heartbeat failures go to the process watch, which logs them
 * and waits before judging other processes (src/calls/process-watch.ts).
 */
/** Calls remembered as held, newest last; a call answered here may be held elsewhere without this process hearing. */
const MAX_REMEMBERED = 10_000;

export class FailSoftCallHolders implements CallHolders, ProcessRegistry {
  /** Calls this process holds, as far as it knows. */
  private readonly mine = new Set<string>();
  /** Releases that have not reached the store yet. */
  private readonly released = new Set<string>();
  private needsResync = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly inner: CallHolders & ProcessRegistry,
    private readonly deps: { health: SharedStateHealth; logger: Logger },
  ) {
    this.unsubscribe = deps.health.onRecovered(() => void this.resync());
  }

  get processId(): string {
    return this.inner.processId;
  }

  async hold(callSid: string): Promise<void> {
    this.mine.delete(callSid);
    this.mine.add(callSid);
    if (this.mine.size > MAX_REMEMBERED) this.mine.delete(this.mine.values().next().value!);
    this.released.delete(callSid);
    await this.soft('hold', () => this.inner.hold(callSid));
  }

  async release(callSid: string): Promise<void> {
    this.mine.delete(callSid);
    this.released.add(callSid);
    if (await this.soft('release', () => this.inner.release(callSid))) this.released.delete(callSid);
  }

  async holderOf(callSid: string): Promise<string | undefined> {
    try {
      return await this.attempt('holder read', () => this.inner.holderOf(callSid));
    } catch (err) {
      if (this.mine.has(callSid)) return this.processId;
      throw err;
    }
  }

  async beat(nowMs: number): Promise<void> {
    await this.attempt('heartbeat', () => this.inner.beat(nowMs));
    if (this.needsResync) await this.resync();
  }

  deadProcesses(cutoffMs: number): Promise<string[]> {
    return this.attempt('heartbeat read', () => this.inner.deadProcesses(cutoffMs));
  }

  claimDead(processId: string, cutoffMs: number): Promise<string[] | undefined> {
    return this.attempt('claim', () => this.inner.claimDead(processId, cutoffMs));
  }

  leave(): Promise<void> {
    this.unsubscribe();
    return this.inner.leave();
  }

  /** Writes every call this process holds, and the releases that did not get through. */
  async resync(): Promise<void> {
    this.needsResync = false;
    try {
      for (const callSid of [...this.released]) {
        await this.inner.release(callSid);
        this.released.delete(callSid);
      }
      // Only calls nobody holds (forgotten by a Redis restarted empty): one another process took meanwhile stays there.
      for (const callSid of [...this.mine]) {
        const holder = await this.inner.holderOf(callSid);
        if (holder === undefined) await this.inner.hold(callSid);
        else if (holder !== this.processId) this.mine.delete(callSid);
      }
    } catch (err) {
      this.needsResync = true;
      this.deps.health.failed('holder re-sync', err);
    }
  }

  /** Runs a write; on failure the call goes on and the write is redone by the next re-sync. */
  private async soft(what: string, op: () => Promise<void>): Promise<boolean> {
    try {
      await this.attempt(what, op);
      return true;
    } catch {
      this.needsResync = true;
      return false;
    }
  }

  private async attempt<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      const result = await op();
      this.deps.health.ok();
      return result;
    } catch (err) {
      this.deps.health.failed(`call holders ${what}`, err);
      throw err;
    }
  }
}
