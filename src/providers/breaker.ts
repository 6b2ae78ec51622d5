/**
 * A circuit breaker for one provider endpoint, as a pure state machine fed the
 * time (`nowMs`, from the injectable clock): no timers of its own, so tests
 * drive it with plain numbers.
 *
 * - `closed`: requests go through; `failureThreshold` failures in a row open it.
 * - `open`: requests are refused at once (the caller is served by the secondary
 *   or the flow's fallback instead of waiting on a dead provider), for `openMs`.
 * - `half_open`: after `openMs`, one request at a time is let through as a probe;
 *   its success closes the breaker, its failure opens it again for `openMs`.
 */

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerPolicy {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long an open breaker refuses requests before letting a probe through. */
  openMs: number;
}

/**
 * Three failures in a row: one failed turn can be a blip, three is a provider in
 * trouble (and each failure already includes the adapter's own retries).
 * 30 s open: long enough that a dead provider costs each call at most one probe
 * per half minute, short enough that a recovered one is back within a minute.
 */
export const DEFAULT_BREAKER_POLICY: BreakerPolicy = { failureThreshold: 3, openMs: 30_000 };

export interface BreakerTransition {
  from: BreakerState;
  to: BreakerState;
  /** Failures in a row when it happened. */
  failures: number;
}

export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private consecutiveFailures = 0;
  private openedAtMs = 0;
  private probeInFlight = false;

  constructor(
    private readonly policy: BreakerPolicy = DEFAULT_BREAKER_POLICY,
    /** Called on every state change (for the log line). */
    private readonly onTransition?: (t: BreakerTransition) => void,
  ) {}

  /** The state at `nowMs` (an open breaker whose time is up reads `half_open`). */
  state(nowMs: number): BreakerState {
    if (this.current === 'open' && nowMs - this.openedAtMs >= this.policy.openMs) this.move('half_open');
    return this.current;
  }

  get failures(): number {
    return this.consecutiveFailures;
  }

  /**
   * May a request go to this endpoint now? In `half_open`, a `true` answer is the
   * probe: the caller must report `success`, `failure` or `release` for it.
   */
  tryAcquire(nowMs: number): boolean {
    const state = this.state(nowMs);
    if (state === 'closed') return true;
    if (state === 'open' || this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  success(): void {
    this.probeInFlight = false;
    this.consecutiveFailures = 0;
    if (this.current !== 'closed') this.move('closed');
  }

  failure(nowMs: number): void {
    this.probeInFlight = false;
    this.consecutiveFailures++;
    if (this.current === 'half_open' || (this.current === 'closed' && this.consecutiveFailures >= this.policy.failureThreshold)) {
      this.openedAtMs = nowMs;
      this.move('open');
    } else if (this.current === 'open') {
      // A request admitted before the breaker opened failed too: the open period restarts.
      this.openedAtMs = nowMs;
    }
  }

  /** The request ended without a verdict (aborted by barge-in or hang-up): free the probe slot. */
  release(): void {
    this.probeInFlight = false;
  }

  private move(to: BreakerState): void {
    const from = this.current;
    this.current = to;
    this.onTransition?.({ from, to, failures: this.consecutiveFailures });
  }
}
