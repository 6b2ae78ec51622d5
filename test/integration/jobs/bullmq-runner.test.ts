import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { BullMqJobRunner } from '../../../src/jobs/bullmq-runner.js';
import type { RetryPolicy } from '../../../src/jobs/runner.js';

/**
 * Invariant: on real BullMQ and Redis (127.0.0.1:6379) a failing job is tried
 * `attempts` times with exponential backoff, then lands in the failed list, and
 * a retry from there runs it again: the same behaviour as the in-process runner.
 * Every key lives under a prefix of this test's own and is deleted afterwards.
 */

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test-jobs-${process.pid}-${randomBytes(4).toString('hex')}`;
const policy: RetryPolicy = { attempts: 3, backoff: { type: 'exponential', delayMs: 60 } };

let connection: Redis;
let runner: BullMqJobRunner;

beforeAll(async () => {
  connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
});

afterAll(async () => {
  await runner?.close();
  // Obliterate what BullMQ left under our prefix (job hashes, sets, streams, meta).
  let cursor = '0';
  do {
    const [next, keys] = await connection.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    if (keys.length > 0) await connection.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  expect(await connection.keys(`${prefix}:*`)).toEqual([]);
  await connection.quit();
});

/** Polls a condition on real time (the backoff here is BullMQ's own timers); fails after `ms`. */
async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('BullMQ job runner on Redis', () => {
  it('retries with backoff, lands in the failed list after the last attempt, and a retry runs it again', async () => {
    runner = new BullMqJobRunner({ connection, prefix, logger: silentLogger });
    const tries: { at: number; attempt: number; n: number }[] = [];
    let healthy = false;
    runner.register<{ n: number }>({
      name: 'demo',
      policy,
      concurrency: 1,
      async process(payload, ctx) {
        tries.push({ at: Date.now(), attempt: ctx.attempt, n: payload.n });
        if (!healthy) throw new Error('receiver down');
      },
    });
    // Enqueued before any worker runs (a WORKERS=off process does just this).
    const id = await runner.enqueue('demo', { n: 7 }, { jobId: 'event-7' });
    expect(await runner.enqueue('demo', { n: 8 }, { jobId: 'event-7' })).toBe('event-7');
    expect((await runner.stats())[0]).toMatchObject({ queue: 'demo', waiting: 1 });
    expect(tries).toEqual([]);

    await runner.startWorkers();
    await until(async () => (await runner.getFailed('demo', id)) !== undefined);
    expect(tries.map((t) => t.attempt)).toEqual([1, 2, 3]);
    expect(tries.every((t) => t.n === 7)).toBe(true);
    // BullMQ's exponential backoff: 60 ms, then 120 ms (never earlier; later by its own scheduling).
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(60 - 5);
    expect(tries[2]!.at - tries[1]!.at).toBeGreaterThanOrEqual(120 - 5);

    const failed = await runner.failed('demo', { offset: 0, limit: 10 });
    expect(failed).toEqual([
      expect.objectContaining({ id, queue: 'demo', payload: { n: 7 }, attemptsMade: 3, error: 'receiver down' }),
    ]);
    expect((await runner.stats())[0]).toMatchObject({ failed: 1, attemptFailures: 3, jobsFailed: 1 });

    expect(await runner.retry('demo', 'no-such-job')).toBe(false);
    healthy = true;
    expect(await runner.retry('demo', id)).toBe(true);
    await until(async () => tries.length === 4 && (await runner.stats())[0]!.active === 0);
    expect(tries[3]).toMatchObject({ attempt: 1, n: 7 });
    expect(await runner.failed('demo', { offset: 0, limit: 10 })).toEqual([]);
    expect(await runner.getFailed('demo', id)).toBeUndefined();
  });
});
