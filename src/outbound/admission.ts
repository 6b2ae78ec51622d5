import type { OutboundLimits } from '../agents/types.js';

/**
 * Whether one agent may start another outbound call now (docs/outbound.md#limits):
 * a pure state fed `(event, nowMs)`, so the limits are tested without timers.
 * A slot is held from the dial until the call ends; the rate counts dial starts
 * in a sliding 60-second window.
 */

export const RATE_WINDOW_MS = 60_000;

export type Admission =
  | { ok: true }
  /** Every slot is taken: the next release admits. */
  | { ok: false; reason: 'concurrency' }
  /** The minute's starts are used up: try again at `retryAtMs` (on the clock the times were given in). */
  | { ok: false; reason: 'rate'; retryAtMs: number };

export class AgentAdmission {
  private active = 0;
  /** Monotonic ms of the dial starts still inside the window, oldest first. */
  private starts: number[] = [];

  get inFlight(): number {
    return this.active;
  }

  check(limits: OutboundLimits, nowMs: number): Admission {
    this.forget(nowMs);
    if (this.active >= limits.maxConcurrent) return { ok: false, reason: 'concurrency' };
    if (this.starts.length >= limits.perMinute) return { ok: false, reason: 'rate', retryAtMs: this.starts[0]! + RATE_WINDOW_MS };
    return { ok: true };
  }

  /** Takes a slot and counts a start; call only after `check` said ok. */
  take(nowMs: number): void {
    this.active++;
    this.starts.push(nowMs);
  }

  release(): void {
    if (this.active > 0) this.active--;
  }

  private forget(nowMs: number): void {
    while (this.starts.length > 0 && this.starts[0]! + RATE_WINDOW_MS <= nowMs) this.starts.shift();
  }
}
