import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import {
  backoffDelayMs,
  errorText,
  checkJobId,
  COMPLETED_JOBS_KEPT,
  FAILED_JOBS_KEPT,
  PermanentJobError,
  type EnqueueOptions,
  type FailedJob,
  type JobDefinition,
  type JobRunner,
  type QueueStats,
} from './runner.js';

/**
 * The in-process job runner (no REDIS_URL): the same processors, attempts and
 * exponential backoff as BullMQ, with every wait on the injectable clock, so a
 * test moves a job through its retries by advancing a ManualClock. Jobs live in
 * this process's memory: a restart loses the queued ones and the failed list.
 */

interface MemoryJob {
  id: string;
  payload: unknown;
  attemptsMade: number;
  createdAt: number;
  timer?: TimerHandle;
  failedAt?: number;
  error?: string;
}

interface MemoryQueue {
  def: JobDefinition;
  waiting: MemoryJob[];
  active: Set<MemoryJob>;
  delayed: Set<MemoryJob>;
  /** Oldest failure first. */
  failed: MemoryJob[];
  /** Every id the queue still knows (for jobId deduplication). */
  known: Set<string>;
  /** Ids of the last completed jobs, oldest first (they stay known until they drop off). */
  completed: string[];
  attemptFailures: number;
  jobsFailed: number;
}

export interface MemoryJobRunnerOptions {
  clock: Clock;
  logger: Logger;
}

export class MemoryJobRunner implements JobRunner {
  readonly kind = 'memory';
  private readonly queues = new Map<string, MemoryQueue>();
  private running = false;
  private closed = false;
  private seq = 0;
  private readonly shutdown = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: MemoryJobRunnerOptions) {}

  get workersRunning(): boolean {
    return this.running;
  }

  register<P>(definition: JobDefinition<P>): void {
    if (this.queues.has(definition.name)) throw new Error(`job ${definition.name} is registered twice`);
    this.queues.set(definition.name, {
      def: definition as JobDefinition,
      waiting: [],
      active: new Set(),
      delayed: new Set(),
      failed: [],
      known: new Set(),
      completed: [],
      attemptFailures: 0,
      jobsFailed: 0,
    });
  }

  async enqueue<P>(name: string, payload: P, options: EnqueueOptions = {}): Promise<string> {
    const q = this.queue(name);
    if (this.closed) throw new Error('the job runner is closed');
    if (options.jobId !== undefined) checkJobId(options.jobId);
    const id = options.jobId ?? `${this.options.clock.wallNow()}-${++this.seq}`;
    if (q.known.has(id)) return id;
    q.known.add(id);
    // A copy, as a queue in Redis would store it: later changes by the caller do not leak in.
    const job: MemoryJob = { id, payload: structuredClone(payload), attemptsMade: 0, createdAt: this.options.clock.wallNow() };
    if (options.delayMs !== undefined && options.delayMs > 0) this.delay(q, job, options.delayMs);
    else q.waiting.push(job);
    this.pump(q);
    return id;
  }

  async startWorkers(): Promise<void> {
    if (this.closed) return;
    this.running = true;
    for (const q of this.queues.values()) this.pump(q);
  }

  async failed<P>(name: string, page: { offset: number; limit: number }): Promise<FailedJob<P>[]> {
    const q = this.queue(name);
    return [...q.failed]
      .reverse()
      .slice(page.offset, page.offset + page.limit)
      .map((job) => this.view<P>(q, job));
  }

  async getFailed<P>(name: string, id: string): Promise<FailedJob<P> | undefined> {
    const q = this.queue(name);
    const job = q.failed.find((j) => j.id === id);
    return job ? this.view<P>(q, job) : undefined;
  }

  async retry(name: string, id: string): Promise<boolean> {
    const q = this.queue(name);
    const index = q.failed.findIndex((j) => j.id === id);
    if (index < 0) return false;
    const [job] = q.failed.splice(index, 1);
    job!.attemptsMade = 0;
    delete job!.failedAt;
    delete job!.error;
    q.waiting.push(job!);
    this.pump(q);
    return true;
  }

  async stats(): Promise<QueueStats[]> {
    return [...this.queues.values()].map((q) => ({
      queue: q.def.name,
      waiting: q.waiting.length,
      active: q.active.size,
      delayed: q.delayed.size,
      failed: q.failed.length,
      attemptFailures: q.attemptFailures,
      jobsFailed: q.jobsFailed,
    }));
  }

  /** Resolves once no job is waiting or running (delayed ones may remain): tests wait on this, not on time. */
  async idle(): Promise<void> {
    for (;;) {
      const busy = [...this.queues.values()].some((q) => q.active.size > 0 || (this.running && q.waiting.length > 0));
      if (!busy) return;
      await Promise.race([...this.inFlight, new Promise<void>((r) => setImmediate(r))]);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.running = false;
    this.shutdown.abort(new Error('the job runner is closing'));
    for (const q of this.queues.values()) {
      for (const job of q.delayed) job.timer?.cancel();
    }
    await Promise.allSettled([...this.inFlight]);
  }

  private queue(name: string): MemoryQueue {
    const q = this.queues.get(name);
    if (!q) throw new Error(`no job named ${name} is registered`);
    return q;
  }

  private view<P>(q: MemoryQueue, job: MemoryJob): FailedJob<P> {
    return {
      id: job.id,
      queue: q.def.name,
      payload: structuredClone(job.payload) as P,
      attemptsMade: job.attemptsMade,
      error: job.error ?? '',
      createdAt: job.createdAt,
      failedAt: job.failedAt ?? job.createdAt,
    };
  }

  private delay(q: MemoryQueue, job: MemoryJob, ms: number): void {
    q.delayed.add(job);
    job.timer = this.options.clock.setTimeout(() => {
      q.delayed.delete(job);
      delete job.timer;
      if (this.closed) return;
      q.waiting.push(job);
      this.pump(q);
    }, ms);
  }

  /** Starts as many waiting jobs as the queue's concurrency allows. */
  private pump(q: MemoryQueue): void {
    if (!this.running || this.closed) return;
    while (q.active.size < q.def.concurrency && q.waiting.length > 0) {
      const job = q.waiting.shift()!;
      q.active.add(job);
      const run = this.run(q, job).finally(() => {
        q.active.delete(job);
        this.inFlight.delete(run);
        this.pump(q);
      });
      this.inFlight.add(run);
    }
  }

  private async run(q: MemoryQueue, job: MemoryJob): Promise<void> {
    // Never inline with enqueue: the caller's own work finishes first, as with a real queue.
    await Promise.resolve();
    const attempt = job.attemptsMade + 1;
    try {
      await q.def.process(structuredClone(job.payload), { id: job.id, attempt, signal: this.shutdown.signal });
      q.completed.push(job.id);
      if (q.completed.length > COMPLETED_JOBS_KEPT) q.known.delete(q.completed.shift()!);
    } catch (err) {
      if (this.shutdown.signal.aborted) return; // closing: the attempt does not count
      job.attemptsMade = attempt;
      q.attemptFailures++;
      const permanent = err instanceof PermanentJobError;
      if (!permanent && attempt < q.def.policy.attempts) {
        const waitMs = backoffDelayMs(q.def.policy, attempt);
        this.options.logger.warn({ err, job: q.def.name, jobId: job.id, attempt, retryInMs: waitMs }, 'job attempt failed; retrying');
        this.delay(q, job, waitMs);
        return;
      }
      job.error = errorText(err);
      job.failedAt = this.options.clock.wallNow();
      q.failed.push(job);
      q.jobsFailed++;
      if (q.failed.length > FAILED_JOBS_KEPT) {
        for (const dropped of q.failed.splice(0, q.failed.length - FAILED_JOBS_KEPT)) q.known.delete(dropped.id);
      }
      this.options.logger.error({ err, job: q.def.name, jobId: job.id, attempts: attempt, permanent }, 'job failed; kept in the failed list');
    }
  }
}
