import type { Recordings } from '../../outbound/recordings.js';
import type { JobDefinition } from '../runner.js';

/**
 * Recording retention as a job (docs/outbound.md#retention): deletes at Twilio
 * the recordings of calls older than RECORDING_RETENTION_DAYS. Every process
 * enqueues one run per interval under the same job id, so with several
 * processes on one Redis a run happens once. A run that could not delete some
 * recordings fails and is retried with backoff; each run looks again, so a
 * retry repeats nothing already done.
 */
export const RECORDING_RETENTION_QUEUE = 'recording-retention';

/** How often retention runs. */
export const RECORDING_RETENTION_INTERVAL_MS = 3_600_000;

/** The job id of the run for the interval containing `wallMs`: the same in every process. */
export function retentionJobId(wallMs: number): string {
  return `retention-${Math.floor(wallMs / RECORDING_RETENTION_INTERVAL_MS)}`;
}

export function recordingRetentionJob(recordings: Pick<Recordings, 'deleteExpired'>, days: number): JobDefinition<Record<string, never>> {
  return {
    name: RECORDING_RETENTION_QUEUE,
    policy: { attempts: 3, backoff: { type: 'exponential', delayMs: 60_000 } },
    concurrency: 1,
    async process() {
      const report = await recordings.deleteExpired(days);
      if (report.failed > 0) throw new Error(`${report.failed} expired recordings could not be deleted`);
    },
  };
}
