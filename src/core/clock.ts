/**
 * All time in src/pipeline, src/flow and the fakes goes through a Clock, so tests
 * drive time explicitly and no scenario waits on real seconds (docs/architecture.md#time-and-the-clock).
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Monotonic milliseconds; only differences are meaningful. */
  now(): number;
  /** Wall-clock epoch milliseconds (for timestamps and business hours). */
  wallNow(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Resolves after `ms`; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
  sleep(ms, signal) {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A manual clock for tests: time moves only when `advance` is called, firing due
 * timers in order. Promises resolved by timers get a chance to run between timers.
 */
export class ManualClock implements Clock {
  private t: number;
  private wall: number;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(startWallMs = Date.UTC(2026, 0, 5, 15, 0, 0)) {
    this.t = 0;
    this.wall = startWallMs;
  }

  now(): number {
    return this.t;
  }

  wallNow(): number {
    return this.wall + this.t;
  }

  setWall(epochMs: number): void {
    this.wall = epochMs - this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: PendingTimer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        handle.cancel();
        reject(signal?.reason);
      };
      const handle = this.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Number of timers still pending (not cancelled). */
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /**
   * A loop that was busy: time jumps by `ms` in one step, then every timer that
   * fell due fires, in order, each seeing the late time (as Node's timers do
   * after a long synchronous stretch). Timers they arm for later do not fire.
   */
  async advanceLate(ms: number): Promise<void> {
    const target = this.t + ms;
    this.t = target;
    for (;;) {
      await flushMicrotasks();
      const next = this.timers
        .filter((t) => !t.cancelled && t.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      next.cancelled = true;
      this.timers = this.timers.filter((t) => !t.cancelled);
      next.fn();
    }
    await flushMicrotasks();
  }

  /** Move time forward by `ms`, firing every timer that falls due, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    for (;;) {
      await flushMicrotasks();
      const next = this.timers
        .filter((t) => !t.cancelled && t.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.t = next.at;
      next.cancelled = true;
      this.timers = this.timers.filter((t) => !t.cancelled);
      next.fn();
    }
    this.t = target;
    await flushMicrotasks();
  }
}

export async function flushMicrotasks(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
  await new Promise<void>((r) => setImmediate(r));
}
