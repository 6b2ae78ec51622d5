/**
 * Failed sign-ins are limited per username and per IP address: at most
 * `MAX_FAILURES` in a sliding `WINDOW_MS`, then refused until the oldest failure
 * leaves the window. The port lets Redis keep the counts when scaled out (a
 * sorted set per key); the in-process version is for a single server.
 */
export const LOGIN_MAX_FAILURES = 10;
export const LOGIN_WINDOW_MS = 15 * 60 * 1000;

export interface LoginThrottle {
  /** 0 when an attempt may go ahead; otherwise how long until one may (ms). */
  retryAfterMs(keys: readonly string[], nowMs: number): Promise<number>;
  recordFailure(keys: readonly string[], nowMs: number): Promise<void>;
}

/** The keys an attempt counts against. */
export function loginKeys(username: string, ip: string): string[] {
  return [`user:${username.toLowerCase()}`, `ip:${ip}`];
}

export class InMemoryLoginThrottle implements LoginThrottle {
  private readonly failures = new Map<string, number[]>();
  private sweeps = 0;

  constructor(
    private readonly max = LOGIN_MAX_FAILURES,
    private readonly windowMs = LOGIN_WINDOW_MS,
  ) {}

  async retryAfterMs(keys: readonly string[], nowMs: number): Promise<number> {
    let wait = 0;
    for (const key of keys) {
      const times = this.recent(key, nowMs);
      if (times.length >= this.max) wait = Math.max(wait, times[times.length - this.max]! + this.windowMs - nowMs);
    }
    return wait;
  }

  async recordFailure(keys: readonly string[], nowMs: number): Promise<void> {
    for (const key of keys) {
      const times = this.recent(key, nowMs);
      times.push(nowMs);
      // Only the last `max` failures decide anything; older ones need not be kept.
      if (times.length > this.max) times.splice(0, times.length - this.max);
      this.failures.set(key, times);
    }
    // Forget keys whose failures all left the window, so guessed usernames do not pile up.
    if (++this.sweeps % 1000 === 0) for (const key of [...this.failures.keys()]) this.recent(key, nowMs);
  }

  private recent(key: string, nowMs: number): number[] {
    const times = (this.failures.get(key) ?? []).filter((t) => t > nowMs - this.windowMs);
    if (times.length === 0) this.failures.delete(key);
    else this.failures.set(key, times);
    return times;
  }
}
