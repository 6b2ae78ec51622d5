import type { Clock, TimerHandle } from '../core/clock.js';
import { latenessFor, type LoopLateness } from '../core/loop-lateness.js';

/**
 * Provider timeouts that measure the provider, not our own event loop
 * (docs/architecture.md#timeouts).
 *
 * A timer callback runs in the loop's timers phase, before the poll phase reads
 * the sockets. When the loop is behind (a busy stretch, a long GC), a timer can
 * fire long after it was due while the provider's answer already sits unread in
 * the socket: failing then blames the provider for our own lateness and ends a
 * healthy call with the fallback. So a provider timer that fires late does not
 * fail at once: it re-arms, so the loop reads what is waiting first, and fails
 * only if nothing came. The time the loop was late is forgiven, up to one more
 * budget, so a provider that is really silent still fails while we are overloaded.
 * "Late" is the larger of the firing's own lateness and the loop's lateness summed
 * over the whole wait (src/core/loop-lateness.ts): under overload the request's
 * write, the response's read and its parsing each wait behind the busy loop, and a
 * timer that happens to fire on time would otherwise blame all of that on the provider.
 *
 * `judgeDeadline` is the pure decision; `ProviderTimer` drives it on a Clock.
 */

export interface DeadlinePolicy {
  /**
   * A timer firing this much after its due time means the loop was busy:
   * Node fires timers within a few ms on a healthy loop.
   */
  lateToleranceMs: number;
  /** How much loop lateness one deadline may forgive in all; undefined = the budget itself. */
  maxForgiveMs?: number;
}

/** 25 ms: far beyond a healthy loop's timer jitter (~1 ms), well under any provider budget. */
export const LOOP_LATE_TOLERANCE_MS = 25;

export const DEFAULT_DEADLINE_POLICY: DeadlinePolicy = { lateToleranceMs: LOOP_LATE_TOLERANCE_MS };

/**
 * After a late fire, look again after this long: a timer of 1 ms runs after the
 * loop's next poll phase, where the waiting socket data is read.
 */
export const LATE_RECHECK_MS = 1;

export interface DeadlineState {
  /** When the provider's time began: the request written, or its latest bytes. */
  from: number;
  budgetMs: number;
  /** Loop lateness forgiven so far (ms), added to the deadline. */
  forgivenMs: number;
}

export interface DeadlineFiring {
  now: number;
  /** When the timer that is firing was due (its lateness is `now − dueAt`). */
  dueAt: number;
  /** The provider's latest bytes seen (on the same clock), if any. */
  progressAt?: number | undefined;
  /**
   * How late the loop was, summed, since the budget's start (since `progressAt` when that
   * restarts it); undefined when not measured (a manual clock).
   */
  loopLateMs?: number | undefined;
}

export type DeadlineVerdict =
  /**
   * The provider had its budget and every forgivable ms: fail. `unforgivenLateMs`: the loop was
   * late by more than could be forgiven, so the silence may be ours as much as the provider's.
   */
  | { kind: 'expired'; unforgivenLateMs?: number }
  /** Not yet: look again after `delayMs`, with this state. */
  | { kind: 'rearm'; delayMs: number; state: DeadlineState };

/**
 * What is left of a first-try budget of `budgetMs` begun at `from` (`lateAtStart`: the loop's summed
 * lateness read then), with our own lateness since forgiven by the same rule as `judgeDeadline`: the
 * budget a retry decision sees, so that our late loop does not use up the provider's time for a
 * second try.
 */
export function retryBudgetLeftMs(
  from: number,
  budgetMs: number,
  now: number,
  lateness: LoopLateness | undefined,
  lateAtStart: number,
  policy: DeadlinePolicy = DEFAULT_DEADLINE_POLICY,
): number {
  let forgivenMs = 0;
  if (lateness) {
    const loopLateMs = lateness.totalMs() - lateAtStart;
    if (loopLateMs > policy.lateToleranceMs) forgivenMs = Math.min(loopLateMs, policy.maxForgiveMs ?? budgetMs);
  }
  return from + budgetMs + forgivenMs - now;
}

export function deadlineOf(state: DeadlineState): number {
  return state.from + state.budgetMs + state.forgivenMs;
}

export function judgeDeadline(
  state: DeadlineState,
  firing: DeadlineFiring,
  policy: DeadlinePolicy = DEFAULT_DEADLINE_POLICY,
): DeadlineVerdict {
  let next = state;
  // Bytes since the budget began: the provider is alive and its time restarts there.
  if (firing.progressAt !== undefined && firing.progressAt > state.from) {
    next = { from: firing.progressAt, budgetMs: state.budgetMs, forgivenMs: 0 };
  }
  const deadline = deadlineOf(next);
  if (firing.now < deadline) return { kind: 'rearm', delayMs: deadline - firing.now, state: next };
  const firingLateMs = firing.now - firing.dueAt;
  const waitLateMs = firing.loopLateMs ?? 0;
  // What the loop owes the provider: this firing's lateness on top of what was forgiven
  // before, or the lateness summed over the whole wait, whichever is more.
  const owedMs = Math.max(
    firingLateMs > policy.lateToleranceMs ? next.forgivenMs + firingLateMs : 0,
    waitLateMs > policy.lateToleranceMs ? waitLateMs : 0,
  );
  const forgivenMs = Math.min(owedMs, policy.maxForgiveMs ?? next.budgetMs);
  if (forgivenMs > next.forgivenMs) {
    const rearmed = { ...next, forgivenMs };
    return { kind: 'rearm', delayMs: Math.max(LATE_RECHECK_MS, deadlineOf(rearmed) - firing.now), state: rearmed };
  }
  const unforgivenLateMs = owedMs - next.forgivenMs;
  return unforgivenLateMs > policy.lateToleranceMs ? { kind: 'expired', unforgivenLateMs } : { kind: 'expired' };
}

/**
 * One provider deadline on a Clock: `arm` starts a budget, `progress` notes
 * provider bytes that do not end the wait (the budget restarts from them), and
 * `onExpire` runs only when `judgeDeadline` says the provider, not the loop, is late.
 * One timer at a time, so callers keep the same count of pending timers as before.
 */
export class ProviderTimer {
  private handle: TimerHandle | undefined;
  private state: DeadlineState = { from: 0, budgetMs: 0, forgivenMs: 0 };
  private dueAt = 0;
  private progressAt: number | undefined;
  /** The loop's summed lateness when the budget started, and at the latest progress. */
  private lateAtFrom = 0;
  private lateAtProgress = 0;
  private lastUnforgivenLateMs = 0;
  /** The consumer holds what was yielded (`hold`); a deadline that passed meanwhile (`passedWhileHeld`). */
  private held = false;
  private passedWhileHeld = false;

  /** `lateness`: the process's own on the system clock; none on a manual clock (tests drive lateness explicitly). */
  constructor(
    private readonly clock: Clock,
    private readonly onExpire: () => void,
    private readonly policy: DeadlinePolicy = DEFAULT_DEADLINE_POLICY,
    private readonly lateness: LoopLateness | undefined = latenessFor(clock),
  ) {}

  /**
   * Starts (or restarts) a budget counted from `from` (default now): a shared deadline passes its
   * start, and `lateAtFrom` the loop's summed lateness read then, so lateness since `from` is forgiven.
   */
  arm(budgetMs: number, from = this.clock.now(), lateAtFrom = this.lateness?.totalMs() ?? 0): void {
    this.cancel();
    this.state = { from, budgetMs, forgivenMs: 0 };
    this.progressAt = undefined;
    this.held = false;
    this.passedWhileHeld = false;
    this.lateAtFrom = lateAtFrom;
    this.schedule(Math.max(0, deadlineOf(this.state) - this.clock.now()));
  }

  /** The provider sent something that does not end the wait; its budget restarts from now. */
  progress(): void {
    this.progressAt = this.clock.now();
    if (this.lateness) this.lateAtProgress = this.lateness.totalMs();
  }

  /**
   * The stream's consumer has what was yielded, not the provider: a deadline that passes
   * until `release` does not fail, it only makes `release` start the budget afresh.
   */
  hold(): void {
    this.held = true;
  }

  /** Back from the consumer, waiting on the provider again: the budget restarts from now. */
  release(): void {
    this.held = false;
    if (!this.passedWhileHeld) return this.progress();
    this.passedWhileHeld = false;
    this.arm(this.state.budgetMs);
  }

  cancel(): void {
    this.handle?.cancel();
    this.handle = undefined;
  }

  get armed(): boolean {
    return this.handle !== undefined;
  }

  /**
   * At its expiry: how late the loop was beyond what the deadline could forgive (0 when the
   * loop was on time). A timeout with it says as much about this process as about the provider.
   */
  get unforgivenLateMs(): number {
    return this.lastUnforgivenLateMs;
  }

  private schedule(delayMs: number): void {
    this.dueAt = this.clock.now() + delayMs;
    this.handle = this.clock.setTimeout(() => this.fire(), delayMs);
  }

  private fire(): void {
    this.handle = undefined;
    const restarted = this.progressAt !== undefined && this.progressAt > this.state.from;
    if (restarted) this.lateAtFrom = this.lateAtProgress;
    const loopLateMs = this.lateness ? this.lateness.totalMs() - this.lateAtFrom : undefined;
    const verdict = judgeDeadline(this.state, { now: this.clock.now(), dueAt: this.dueAt, progressAt: this.progressAt, loopLateMs }, this.policy);
    if (verdict.kind === 'expired') {
      if (this.held) {
        this.passedWhileHeld = true;
        return;
      }
      this.lastUnforgivenLateMs = verdict.unforgivenLateMs ?? 0;
      return this.onExpire();
    }
    this.state = verdict.state;
    this.schedule(verdict.delayMs);
  }
}
