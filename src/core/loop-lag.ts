import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Clock, TimerHandle } from './clock.js';
import type { Logger } from './logger.js';

/**
 * The event-loop delay guard. When the loop lags, every live call's audio pacing
 * and speech recognition suffers at once; taking more calls then makes everyone's
 * call worse. The guard turns the loop's measured delay into one bit, `overloaded`,
 * and new calls are answered with the agent's unavailable message while it is set
 * (like MAX_CALLS), so the calls in progress keep their quality.
 *
 * `LoopLagGuard` is a pure state machine fed one figure per window (the window's
 * 99th-percentile delay); `LoopLagMonitor` feeds it from a sampler on the clock.
 */

export interface LoopLagPolicy {
  /** A window whose p99 delay reaches this counts as lagging. */
  limitMs: number;
  /** Lagging windows in a row that set `overloaded` (one GC pause must not refuse calls). */
  enterWindows: number;
  /** Windows in a row under the limit that clear it again. */
  recoverWindows: number;
}

export const DEFAULT_LOOP_LAG_POLICY: Omit<LoopLagPolicy, 'limitMs'> = { enterWindows: 2, recoverWindows: 3 };

/** One window per second: quick enough to stop a pile-up of new calls, long enough for a stable p99. */
export const LOOP_LAG_WINDOW_MS = 1_000;

export class LoopLagGuard {
  private state: 'ok' | 'overloaded' = 'ok';
  private streak = 0;
  lastLagMs = 0;

  constructor(
    private readonly policy: LoopLagPolicy,
    private readonly onChange?: (overloaded: boolean, lagMs: number) => void,
  ) {}

  get overloaded(): boolean {
    return this.state === 'overloaded';
  }

  observe(lagMs: number): void {
    this.lastLagMs = lagMs;
    const lagging = lagMs >= this.policy.limitMs;
    if (this.state === 'ok') {
      this.streak = lagging ? this.streak + 1 : 0;
      if (this.streak >= this.policy.enterWindows) this.flip('overloaded', lagMs);
    } else {
      this.streak = lagging ? 0 : this.streak + 1;
      if (this.streak >= this.policy.recoverWindows) this.flip('ok', lagMs);
    }
  }

  private flip(to: 'ok' | 'overloaded', lagMs: number): void {
    this.state = to;
    this.streak = 0;
    this.onChange?.(to === 'overloaded', lagMs);
  }
}

/** The loop delay since the last call, milliseconds. */
export interface LagSampler {
  sampleMs(): number;
  close(): void;
}

/** Node's own event-loop delay histogram (10 ms resolution), read and reset per window. */
export function histogramSampler(): LagSampler {
  const h: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  return {
    sampleMs() {
      const p99 = h.count > 0 ? h.percentile(99) / 1e6 : 0;
      h.reset();
      return p99;
    },
    close: () => h.disable(),
  };
}

export class LoopLagMonitor {
  private timer: TimerHandle | undefined;
  private closed = false;

  constructor(
    readonly guard: LoopLagGuard,
    private readonly sampler: LagSampler,
    private readonly clock: Clock,
    private readonly windowMs = LOOP_LAG_WINDOW_MS,
  ) {}

  start(): this {
    this.schedule();
    return this;
  }

  /** One window: sample and feed the guard (the timer calls it; tests may too). */
  tick(): void {
    this.guard.observe(this.sampler.sampleMs());
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.sampler.close();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = this.clock.setTimeout(() => {
      this.tick();
      this.schedule();
    }, this.windowMs);
  }
}

/** The guard's log lines: one when it starts refusing calls, one when it stops. */
export function logLoopLag(logger: Logger, limitMs: number) {
  return (overloaded: boolean, lagMs: number) => {
    if (overloaded) logger.warn({ lagMs: Math.round(lagMs), limitMs }, 'event loop lagging: new calls get the unavailable answer');
    else logger.info({ lagMs: Math.round(lagMs), limitMs }, 'event loop recovered: taking new calls again');
  };
}
