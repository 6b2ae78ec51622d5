import type { Logger } from '../core/logger.js';

/**
 * Whether the shared live state (Redis, with `REDIS_URL`) answers, as this process sees it.
 *
 * The fail-soft call repository and holders report every failure and success here. While it
 * fails, calls in progress go on from this process's own copy of their records
 * (src/calls/fail-soft-repository.ts); `GET /ready` reads `degraded`. The first success after
 * a failure is the recovery: listeners then write back what this process changed meanwhile and
 * put back what a Redis restarted empty has lost. Logs are one line per change of state, not
 * one per failed command: a call makes dozens of changes a minute.
 */
export class SharedStateHealth {
  private failingSince: number | undefined;
  private failedOps = 0;
  private readonly recovered = new Set<() => void>();

  constructor(
    private readonly logger: Logger,
    private readonly wallNow: () => number,
  ) {}

  get failing(): boolean {
    return this.failingSince !== undefined;
  }

  /** Operations that failed since the shared state last answered. */
  get failures(): number {
    return this.failedOps;
  }

  failed(what: string, err: unknown): void {
    this.failedOps++;
    if (this.failingSince !== undefined) return;
    this.failingSince = this.wallNow();
    this.logger.error({ err: { message: (err as Error)?.message ?? String(err) }, what }, 'shared live state (Redis) unreachable: calls in progress continue from this process’s copy');
  }

  ok(): void {
    if (this.failingSince === undefined) return;
    const downMs = this.wallNow() - this.failingSince;
    this.logger.warn({ downMs, failedOps: this.failedOps }, 'shared live state (Redis) answers again: re-syncing');
    this.failingSince = undefined;
    this.failedOps = 0;
    for (const listener of this.recovered) listener();
  }

  onRecovered(listener: () => void): () => void {
    this.recovered.add(listener);
    return () => this.recovered.delete(listener);
  }
}
