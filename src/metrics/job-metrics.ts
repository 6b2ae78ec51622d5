import type { JobRunner, QueueStats } from '../jobs/runner.js';
import type { Metrics } from './registry.js';

/**
 * Job queue figures for /metrics, from the runner's own `stats()` (docs/jobs.md):
 * depths as the queue store sees them (shared by every process with Redis),
 * failures as this process's workers saw them.
 */

/** Several metrics read one stats() per scrape: a scrape reads them within this window. */
const STATS_REUSE_MS = 1000;

export function registerJobMetrics(metrics: Metrics, jobs: Pick<JobRunner, 'stats'>, nowMs: () => number = Date.now): void {
  let last: { at: number; stats: Promise<QueueStats[]> } | undefined;
  const stats = () => {
    const now = nowMs();
    if (!last || now - last.at > STATS_REUSE_MS) last = { at: now, stats: jobs.stats() };
    return last.stats;
  };
  const STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
  metrics.gauge({
    name: 'job_queue_depth',
    help: 'Jobs per queue and state (waiting, active, delayed, failed list), as the queue store holds them.',
    labelNames: ['queue', 'state'],
    read: async () => (await stats()).flatMap((q) => STATES.map((state) => ({ labels: { queue: q.queue, state }, value: q[state] }))),
  });
  metrics.counterOf({
    name: 'job_attempt_failures_total',
    help: "Failed job attempts in this process's workers (retried or not), by queue.",
    labelNames: ['queue'],
    read: async () => (await stats()).map((q) => ({ labels: { queue: q.queue }, value: q.attemptFailures })),
  });
  metrics.counterOf({
    name: 'jobs_failed_total',
    help: "Jobs whose last attempt failed in this process's workers (now in the failed list), by queue.",
    labelNames: ['queue'],
    read: async () => (await stats()).map((q) => ({ labels: { queue: q.queue }, value: q.jobsFailed })),
  });
}
