import { systemClock, type Clock } from './clock.js';

/**
 * How late the event loop has been, summed since the process started: a timer
 * due every `periodMs` adds how late it ran. The difference of two readings is
 * the time the loop was behind between them — what a provider deadline must not
 * blame on the provider (src/providers/deadline.ts, docs/architecture.md#timeouts).
 * A single late timer firing shows only the lateness of that moment; a request
 * whose write, response and parsing each waited behind a busy loop was late at
 * every step, and this counts all of it.
 */
export interface LoopLateness {
  /** Milliseconds of lateness so far, including a tick that is overdue right now; never decreases. */
  totalMs(): number;
}

/** Schedules `fn` after `ms` (the process sampler's timer is unref'd: it never keeps a process alive). */
export type Schedule = (fn: () => void, ms: number) => void;

/** 20 ms: fine enough to see a busy stretch, cheap (50 timer callbacks a second). */
export const LOOP_LATENESS_PERIOD_MS = 20;

export class LoopLatenessSampler implements LoopLateness {
  private total = 0;
  private expected: number;

  constructor(
    private readonly now: Clock['now'],
    private readonly schedule: Schedule,
    private readonly periodMs = LOOP_LATENESS_PERIOD_MS,
  ) {
    this.expected = now() + periodMs;
    schedule(this.tick, periodMs);
  }

  totalMs(): number {
    return this.total + Math.max(0, this.now() - this.expected);
  }

  private readonly tick = (): void => {
    const now = this.now();
    if (now > this.expected) this.total += now - this.expected;
    this.expected = now + this.periodMs;
    this.schedule(this.tick, this.periodMs);
  };
}

let processSampler: LoopLatenessSampler | undefined;

/** This process's loop lateness, sampled from its first use on. */
export function processLoopLateness(): LoopLateness {
  processSampler ??= new LoopLatenessSampler(
    () => performance.now(),
    (fn, ms) => setTimeout(fn, ms).unref(),
  );
  return processSampler;
}

/**
 * The lateness source that goes with a clock: the process's own on the system clock, none on
 * another (a manual clock's time is the test's; tests that need lateness inject a source).
 */
export function latenessFor(clock: Clock): LoopLateness | undefined {
  return clock === systemClock ? processLoopLateness() : undefined;
}
