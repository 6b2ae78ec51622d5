/**
 * The job runner port (docs/jobs.md): named queues, each with one processor and
 * one retry policy. Two adapters implement it with the same semantics: BullMQ on
 * Redis when REDIS_URL is set (./bullmq-runner.ts), and an in-process runner on
 * the injectable clock otherwise (./memory-runner.ts). Processors are domain code
 * and never see either.
 */

/** The failed list keeps this many jobs per queue; older failures are dropped (both adapters). */
export const FAILED_JOBS_KEPT = 1000;
/** Completed jobs remembered per queue, so a job id seen recently is not run twice. */
export const COMPLETED_JOBS_KEPT = 1000;

/** Attempts in all (the first try counts) and the exponential backoff between them. */
export interface RetryPolicy {
  attempts: number;
  /** Wait after the n-th failed attempt: `delayMs × 2^(n−1)` (BullMQ's exponential formula). */
  backoff: { type: 'exponential'; delayMs: number };
}

/** The wait before the next try, after `attemptsMade` failed attempts (1 after the first). */
export function backoffDelayMs(policy: RetryPolicy, attemptsMade: number): number {
  return Math.round(policy.backoff.delayMs * 2 ** Math.max(0, attemptsMade - 1));
}

/** Thrown by a processor when another try cannot help (a refused URL, a bad payload): the job fails at once. */
export class PermanentJobError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentJobError';
  }
}

export interface JobContext {
  id: string;
  /** 1 on the first try. */
  attempt: number;
  /** Aborted when the runner closes (shutdown): stop quietly, the job is tried again later. */
  signal: AbortSignal;
}

export interface JobDefinition<P = unknown> {
  /** The queue's name: one kind of job per queue. */
  name: string;
  policy: RetryPolicy;
  /** Jobs of this kind run at once in one process. */
  concurrency: number;
  process(payload: P, ctx: JobContext): Promise<void>;
}

export interface EnqueueOptions {
  /** Deduplicates: a job with this id that the queue still knows (waiting, running, failed or among the last completed) is not added twice. */
  jobId?: string;
  /** Wait this long before the first try. */
  delayMs?: number;
}

/** A job that used its last attempt (or failed permanently), kept for inspection and retry. */
export interface FailedJob<P = unknown> {
  id: string;
  queue: string;
  payload: P;
  attemptsMade: number;
  error: string;
  /** Wall-clock epoch ms of the first enqueue and of the last failure. */
  createdAt: number;
  failedAt: number;
}

export interface QueueStats {
  queue: string;
  /** Ready to run now. */
  waiting: number;
  active: number;
  /** Waiting for a backoff or a start delay. */
  delayed: number;
  /** In the failed list now. */
  failed: number;
  /** Failed attempts seen by this process's workers since it started (retried or not). */
  attemptFailures: number;
  /** Jobs whose last attempt failed in this process's workers since it started. */
  jobsFailed: number;
}

export interface JobRunner {
  /** Which adapter: `memory` (in-process) or `bullmq` (Redis). */
  readonly kind: 'memory' | 'bullmq';
  /** Adds a kind of job; call before `enqueue` or `startWorkers` for it. Adding a processor is one call. */
  register<P>(definition: JobDefinition<P>): void;
  /** Queues a job (resolves with its id once it is stored); never runs it inline. */
  enqueue<P>(name: string, payload: P, options?: EnqueueOptions): Promise<string>;
  /** Starts running every registered kind in this process (not with WORKERS=off). */
  startWorkers(): Promise<void>;
  readonly workersRunning: boolean;
  /** The failed list of a queue, newest failure first. */
  failed<P = unknown>(name: string, page: { offset: number; limit: number }): Promise<FailedJob<P>[]>;
  getFailed<P = unknown>(name: string, id: string): Promise<FailedJob<P> | undefined>;
  /** Moves a failed job back to the queue with all its attempts again; false when it is not in the failed list. */
  retry(name: string, id: string): Promise<boolean>;
  stats(): Promise<QueueStats[]>;
  /** Stops the workers (a running job's signal aborts) and lets go of connections. */
  close(): Promise<void>;
}

/** Whether this process runs job workers: `WORKERS=off` runs none; `ROLE=worker` runs only them. */
export function runsWorkers(config: { WORKERS: string }): boolean {
  return config.WORKERS !== 'off';
}

/** Job ids name events (`call.ended-CA…`); BullMQ refuses custom ids with a colon or only digits, so both adapters do. */
export function checkJobId(id: string): void {
  if (id === '' || id.includes(':') || /^\d+$/.test(id)) throw new Error(`job id "${id}" must be non-empty, without ":", and not only digits`);
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
