import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Calls } from './calls.js';

/**
 * Heartbeats between server processes (docs/architecture.md#several-processes).
 * Every process beats every third of the timeout and, on the same tick, looks
 * for processes whose last beat is older than the timeout: it claims each one
 * (only one claimant wins) and ends the calls it held as failed with reason
 * `process_lost`, so a crashed or killed process never leaves calls "in
 * progress" forever. Times are wall-clock ms from the injected clock, so they
 * compare across processes and tests drive them with a manual clock.
 */
export interface ProcessRegistry {
  readonly processId: string;
  beat(nowMs: number): Promise<void>;
  /** Processes whose last beat is at or before `cutoffMs`. */
  deadProcesses(cutoffMs: number): Promise<string[]>;
  /** Takes a dead process's calls, once: undefined if it beat again or another process claimed it first. */
  claimDead(processId: string, cutoffMs: number): Promise<string[] | undefined>;
  /** A clean exit: forget this process unless it still holds calls. */
  leave(): Promise<void>;
}

export interface ProcessWatchDeps {
  registry: ProcessRegistry;
  calls: Pick<Calls, 'endLost'>;
  clock: Clock;
  logger: Logger;
  timeoutMs: number;
}

export class ProcessWatch {
  private timer: TimerHandle | undefined;
  private closed = false;
  /** Ticks run one after another: a sweep in flight finishes before the next starts. */
  private chain: Promise<unknown> = Promise.resolve();
  /**
   * After this process could not beat (Redis unreachable), it judges nobody until it has beaten
   * for a whole timeout again: when Redis comes back every process's last beat is old, and the
   * first sweeper would otherwise end the calls of processes that were only waiting to beat.
   */
  private sweepFromMs: number | undefined;
  private beatFailed = false;

  constructor(private readonly deps: ProcessWatchDeps) {}

  get intervalMs(): number {
    return Math.max(100, Math.floor(this.deps.timeoutMs / 3));
  }

  /** Beats once at once (so the process is known before it takes calls), then on every interval. */
  async start(): Promise<void> {
    await this.deps.registry.beat(this.deps.clock.wallNow());
    this.schedule();
  }

  /** One beat and one sweep, after any tick in flight; returns the calls ended as lost. */
  tick(): Promise<string[]> {
    const next = this.chain.then(() => this.tickOnce());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async tickOnce(): Promise<string[]> {
    const { registry, clock, timeoutMs, logger } = this.deps;
    try {
      await registry.beat(clock.wallNow());
    } catch (err) {
      this.beatFailed = true;
      throw err;
    }
    if (this.beatFailed) {
      this.beatFailed = false;
      this.sweepFromMs = clock.wallNow() + timeoutMs;
      logger.info({ afterMs: timeoutMs }, 'heartbeat back after a failure: other processes are judged again after a full timeout');
    }
    if (this.sweepFromMs !== undefined && clock.wallNow() < this.sweepFromMs) return [];
    this.sweepFromMs = undefined;
    const cutoffMs = clock.wallNow() - timeoutMs;
    const ended: string[] = [];
    for (const processId of await registry.deadProcesses(cutoffMs)) {
      if (processId === registry.processId) continue;
      const callSids = await registry.claimDead(processId, cutoffMs);
      if (!callSids) continue;
      logger.warn({ processId, calls: callSids.length }, 'a server process stopped beating; its calls end as process_lost');
      for (const callSid of callSids) {
        try {
          if (await this.deps.calls.endLost(callSid)) ended.push(callSid);
        } catch (err) {
          logger.error({ err, callSid }, 'ending a lost call failed');
        }
      }
    }
    return ended;
  }

  /** Stops beating without a clean leave: how a crash looks to the other processes (tests use it). */
  halt(): void {
    this.closed = true;
    this.timer?.cancel();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    await this.chain;
    await this.deps.registry.leave();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = this.deps.clock.setTimeout(() => {
      void this.tick()
        .catch((err: unknown) => this.deps.logger.error({ err }, 'process heartbeat failed'))
        .finally(() => this.schedule());
    }, this.intervalMs);
  }
}
