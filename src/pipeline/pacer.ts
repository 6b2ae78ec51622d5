import type { Clock, TimerHandle } from '../core/clock.js';

/**
 * One pacing timer per process (docs/architecture.md#playout-and-pacing): every call with audio to send
 * registers here, and each tick asks all of them to send what is due at the
 * current monotonic time. Calls keep no timers of their own, and the timer only
 * runs while some call is registered.
 */

/** 20 ms = one Twilio frame: ticks often enough that a 300 ms lead never runs dry. */
export const DEFAULT_PACER_INTERVAL_MS = 20;

export interface PacedTarget {
  /** Send whatever is due at `nowMs`. Must not throw; errors are reported, not fatal. */
  pace(nowMs: number): void;
}

export interface Pacer {
  /** Starts visiting the target on every tick; returns the function that stops it. */
  register(target: PacedTarget): () => void;
  readonly size: number;
  close(): void;
}

export interface ClockPacerOptions {
  clock: Clock;
  intervalMs?: number;
  /** A target threw during a tick; the others still run. */
  onError?: (err: unknown, target: PacedTarget) => void;
}

export class ClockPacer implements Pacer {
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly onError: (err: unknown, target: PacedTarget) => void;
  private readonly targets = new Set<PacedTarget>();
  private timer: TimerHandle | undefined;
  private closed = false;
  private tickCount = 0;

  constructor(options: ClockPacerOptions) {
    this.clock = options.clock;
    this.intervalMs = options.intervalMs ?? DEFAULT_PACER_INTERVAL_MS;
    if (!(this.intervalMs > 0)) throw new RangeError('pacer intervalMs must be positive');
    this.onError = options.onError ?? (() => {});
  }

  register(target: PacedTarget): () => void {
    if (this.closed) throw new Error('pacer is closed');
    this.targets.add(target);
    this.schedule();
    return () => {
      this.targets.delete(target);
      if (this.targets.size === 0) this.cancel();
    };
  }

  get size(): number {
    return this.targets.size;
  }

  /** Ticks so far (diagnostics only; pacing never depends on it). */
  get ticks(): number {
    return this.tickCount;
  }

  /** Whether the process timer is armed. */
  get running(): boolean {
    return this.timer !== undefined;
  }

  close(): void {
    this.closed = true;
    this.targets.clear();
    this.cancel();
  }

  private schedule(): void {
    if (this.timer || this.closed || this.targets.size === 0) return;
    this.timer = this.clock.setTimeout(() => this.tick(), this.intervalMs);
  }

  private cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private tick(): void {
    this.timer = undefined;
    this.tickCount++;
    const nowMs = this.clock.now();
    // A copy: targets unregister themselves while being visited.
    for (const target of [...this.targets]) {
      try {
        target.pace(nowMs);
      } catch (err) {
        this.onError(err, target);
      }
    }
    this.schedule();
  }
}
