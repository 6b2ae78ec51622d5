import type { Job, Queue, Worker } from 'bullmq';
import { onDemand } from '../core/on-demand.js';
import type { Redis } from 'ioredis';
import type { Logger } from '../core/logger.js';
import {
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
 * The BullMQ adapter of the job runner (REDIS_URL set): one BullMQ queue per
 * kind of job, its retry policy as the queue's default job options, so any
 * process may enqueue and any process with workers runs the job. The only file
 * that imports BullMQ.
 */

export interface BullMqJobRunnerOptions {
  /** An ioredis connection with `maxRetriesPerRequest: null` (BullMQ's workers block on it); the runner duplicates it as needed. */
  connection: Redis;
  /** Close the connection with the runner (it was made for it). */
  ownsConnection?: boolean;
  /** Namespaces every BullMQ key (`<prefix>:<queue>:…`); tests use a prefix of their own. */
  prefix: string;
  logger: Logger;
}

/** BullMQ is loaded only when a runner is built (REDIS_URL set), not at start (docs/architecture.md#memory). */
const bullmq = onDemand<typeof import('bullmq')>('bullmq');

interface Entry {
  def: JobDefinition;
  queue: Queue;
  worker?: Worker;
  attemptFailures: number;
  jobsFailed: number;
}

export class BullMqJobRunner implements JobRunner {
  readonly kind = 'bullmq';
  private readonly entries = new Map<string, Entry>();
  private running = false;
  private closed = false;

  constructor(private readonly options: BullMqJobRunnerOptions) {}

  get workersRunning(): boolean {
    return this.running;
  }

  register<P>(definition: JobDefinition<P>): void {
    if (this.entries.has(definition.name)) throw new Error(`job ${definition.name} is registered twice`);
    const queue = new (bullmq().Queue)(definition.name, {
      connection: this.options.connection,
      prefix: this.options.prefix,
      defaultJobOptions: {
        attempts: definition.policy.attempts,
        backoff: { type: 'exponential', delay: definition.policy.backoff.delayMs },
        removeOnComplete: { count: COMPLETED_JOBS_KEPT },
        removeOnFail: { count: FAILED_JOBS_KEPT },
      },
    });
    queue.on('error', (err) => this.options.logger.error({ err, job: definition.name }, 'job queue error'));
    this.entries.set(definition.name, { def: definition as JobDefinition, queue, attemptFailures: 0, jobsFailed: 0 });
    if (this.running) this.startWorker(this.entries.get(definition.name)!);
  }

  async enqueue<P>(name: string, payload: P, options: EnqueueOptions = {}): Promise<string> {
    const { queue } = this.entry(name);
    if (options.jobId !== undefined) checkJobId(options.jobId);
    const job = await queue.add(name, payload, {
      ...(options.jobId !== undefined ? { jobId: options.jobId } : {}),
      ...(options.delayMs !== undefined && options.delayMs > 0 ? { delay: options.delayMs } : {}),
    });
    return job.id!;
  }

  async startWorkers(): Promise<void> {
    if (this.closed || this.running) return;
    this.running = true;
    for (const entry of this.entries.values()) this.startWorker(entry);
    await Promise.all([...this.entries.values()].map((e) => e.worker?.waitUntilReady()));
  }

  async failed<P>(name: string, page: { offset: number; limit: number }): Promise<FailedJob<P>[]> {
    const { queue } = this.entry(name);
    if (page.limit <= 0) return [];
    // BullMQ's failed set is ordered by failure time, newest first.
    const jobs = await queue.getFailed(page.offset, page.offset + page.limit - 1);
    return jobs.filter((j): j is Job => j !== undefined && j !== null).map((j) => view<P>(name, j));
  }

  async getFailed<P>(name: string, id: string): Promise<FailedJob<P> | undefined> {
    const { queue } = this.entry(name);
    const job = await queue.getJob(id);
    if (!job || !(await job.isFailed())) return undefined;
    return view<P>(name, job);
  }

  async retry(name: string, id: string): Promise<boolean> {
    const { queue } = this.entry(name);
    const job = await queue.getJob(id);
    if (!job || !(await job.isFailed())) return false;
    // Moves it back to waiting with its attempts counted from zero again.
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return true;
  }

  async stats(): Promise<QueueStats[]> {
    return Promise.all(
      [...this.entries.values()].map(async (e) => {
        const c = await e.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
        return {
          queue: e.def.name,
          waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
          active: c.active ?? 0,
          delayed: c.delayed ?? 0,
          failed: c.failed ?? 0,
          attemptFailures: e.attemptFailures,
          jobsFailed: e.jobsFailed,
        };
      }),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.running = false;
    // Workers first: a running job's signal aborts and its lock is released for another process.
    await Promise.allSettled([...this.entries.values()].map((e) => e.worker?.close()));
    await Promise.allSettled([...this.entries.values()].map((e) => e.queue.close()));
    if (this.options.ownsConnection) await this.options.connection.quit().catch(() => this.options.connection.disconnect());
  }

  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new Error(`no job named ${name} is registered`);
    return e;
  }

  private startWorker(entry: Entry): void {
    const { def } = entry;
    const worker = new (bullmq().Worker)(
      def.name,
      async (job: Job, _token?: string, signal?: AbortSignal) => {
        try {
          await def.process(job.data, {
            id: job.id!,
            attempt: job.attemptsMade + 1,
            signal: signal ?? new AbortController().signal,
          });
        } catch (err) {
          // BullMQ's own "do not retry" error; the processor only knows the port's.
          if (err instanceof PermanentJobError) throw new (bullmq().UnrecoverableError)(err.message);
          throw err;
        }
      },
      { connection: this.options.connection, prefix: this.options.prefix, concurrency: def.concurrency },
    );
    worker.on('failed', (job, err) => {
      entry.attemptFailures++;
      const final = job !== undefined && (err instanceof bullmq().UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1));
      if (final) entry.jobsFailed++;
      const fields = { err, job: def.name, jobId: job?.id, attempt: job?.attemptsMade };
      if (final) this.options.logger.error(fields, 'job failed; kept in the failed list');
      else this.options.logger.warn(fields, 'job attempt failed; retrying');
    });
    worker.on('error', (err) => this.options.logger.error({ err, job: def.name }, 'job worker error'));
    entry.worker = worker;
  }
}

function view<P>(queue: string, job: Job): FailedJob<P> {
  return {
    id: job.id!,
    queue,
    payload: job.data as P,
    attemptsMade: job.attemptsMade,
    error: job.failedReason ?? '',
    createdAt: job.timestamp,
    failedAt: job.finishedOn ?? job.processedOn ?? job.timestamp,
  };
}
