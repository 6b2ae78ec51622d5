import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { onDemand } from '../core/on-demand.js';
import { BullMqJobRunner } from './bullmq-runner.js';
import { MemoryJobRunner } from './memory-runner.js';
import type { JobRunner } from './runner.js';

/**
 * BullMQ keys live under `<REDIS_PREFIX>jobs:<queue>:…`, apart from the live-state keys but
 * under the same deployment prefix, so two deployments (or test runs) on one Redis never share queues.
 */
/** Loaded only with REDIS_URL (docs/architecture.md#memory). */
const ioredis = onDemand<typeof import('ioredis')>('ioredis');

export const jobsKeyPrefix = (redisPrefix: string) => `${redisPrefix}jobs`;

/**
 * The job runner for this deployment: BullMQ when REDIS_URL is set (every
 * process shares the queues), the in-process runner otherwise.
 */
export function createJobRunner(deps: { redisUrl: string | undefined; redisPrefix: string; clock: Clock; logger: Logger }): JobRunner {
  if (!deps.redisUrl) return new MemoryJobRunner({ clock: deps.clock, logger: deps.logger });
  // BullMQ workers block on their connection: requests must wait for a reconnect, not fail.
  const connection = new (ioredis().Redis)(deps.redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', (err) => deps.logger.error({ err }, 'Redis connection of the job queues failed'));
  return new BullMqJobRunner({ connection, ownsConnection: true, prefix: jobsKeyPrefix(deps.redisPrefix), logger: deps.logger });
}
