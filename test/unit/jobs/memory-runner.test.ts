import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { MemoryJobRunner } from '../../../src/jobs/memory-runner.js';
import { backoffDelayMs, PermanentJobError, type RetryPolicy } from '../../../src/jobs/runner.js';

/**
 * Invariant: a failing job is tried `attempts` times, the n-th wait being
 * delayMs × 2^(n−1) on the clock, then it lands in the failed list; a retry from
 * there gets every attempt again. No real time passes in these tests.
 */

const policy: RetryPolicy = { attempts: 4, backoff: { type: 'exponential', delayMs: 1000 } };
let runner: MemoryJobRunner | undefined;

afterEach(async () => {
  await runner?.close();
  runner = undefined;
});

function setup(process: (payload: { n: number }, attempt: number) => Promise<void>) {
  const clock = new ManualClock();
  runner = new MemoryJobRunner({ clock, logger: silentLogger });
  const tries: { at: number; attempt: number }[] = [];
  runner.register<{ n: number }>({
    name: 'demo',
    policy,
    concurrency: 2,
    async process(payload, ctx) {
      tries.push({ at: clock.now(), attempt: ctx.attempt });
      await process(payload, ctx.attempt);
    },
  });
  return { clock, runner, tries };
}

describe('in-process job runner', () => {
  it('computes BullMQ’s exponential backoff', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(policy, n))).toEqual([1000, 2000, 4000, 8000]);
  });

  it('retries with exponential backoff, then keeps the job in the failed list', async () => {
    const { clock, runner, tries } = setup(async () => {
      throw new Error('receiver down');
    });
    await runner.startWorkers();
    const id = await runner.enqueue('demo', { n: 1 });
    await runner.idle();
    expect(tries).toEqual([{ at: 0, attempt: 1 }]);

    // Not a moment early: just before each backoff ends, nothing new runs.
    await clock.advance(999);
    expect(tries).toHaveLength(1);
    await clock.advance(1);
    await runner.idle();
    await clock.advance(2000);
    await runner.idle();
    expect(await runner.failed('demo', { offset: 0, limit: 10 })).toEqual([]);
    await clock.advance(4000);
    await runner.idle();
    expect(tries).toEqual([
      { at: 0, attempt: 1 },
      { at: 1000, attempt: 2 },
      { at: 3000, attempt: 3 },
      { at: 7000, attempt: 4 },
    ]);

    const failed = await runner.failed('demo', { offset: 0, limit: 10 });
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ id, queue: 'demo', payload: { n: 1 }, attemptsMade: 4, error: 'receiver down' });
    // Nothing is scheduled any more: the job is done trying.
    expect(clock.pending()).toBe(0);
    const [stats] = await runner.stats();
    expect(stats).toMatchObject({ queue: 'demo', waiting: 0, active: 0, delayed: 0, failed: 1, attemptFailures: 4, jobsFailed: 1 });
  });

  it('a retry from the failed list runs the job again with every attempt', async () => {
    let healthy = false;
    const { clock, runner, tries } = setup(async () => {
      if (!healthy) throw new Error('still down');
    });
    await runner.startWorkers();
    const id = await runner.enqueue('demo', { n: 2 });
    await clock.advance(1000 + 2000 + 4000);
    await runner.idle();
    expect(await runner.getFailed('demo', id)).toMatchObject({ attemptsMade: 4 });

    expect(await runner.retry('demo', 'no-such-job')).toBe(false);
    expect(await runner.retry('demo', id)).toBe(true);
    await runner.idle();
    expect(tries.at(-1)).toEqual({ at: 7000, attempt: 1 });
    expect(await runner.getFailed('demo', id)).toBeUndefined();
    // It fails again but is retried on the same schedule as a new job.
    await clock.advance(999);
    expect(tries).toHaveLength(5);
    healthy = true;
    await clock.advance(1);
    await runner.idle();
    expect(tries.at(-1)).toEqual({ at: 8000, attempt: 2 });
    expect(await runner.failed('demo', { offset: 0, limit: 10 })).toEqual([]);
  });

  it('a permanent error fails the job at once', async () => {
    const { runner, tries } = setup(async () => {
      throw new PermanentJobError('the URL is refused');
    });
    await runner.startWorkers();
    await runner.enqueue('demo', { n: 3 });
    await runner.idle();
    expect(tries).toHaveLength(1);
    expect(await runner.failed('demo', { offset: 0, limit: 10 })).toMatchObject([{ attemptsMade: 1, error: 'the URL is refused' }]);
  });

  it('without workers (WORKERS=off) jobs are queued and not run', async () => {
    const { runner, tries } = setup(async () => {});
    await runner.enqueue('demo', { n: 4 });
    await runner.idle();
    expect(tries).toEqual([]);
    expect((await runner.stats())[0]).toMatchObject({ waiting: 1 });
    // A process with workers picks them up.
    await runner.startWorkers();
    await runner.idle();
    expect(tries).toHaveLength(1);
  });

  it('runs a job once per job id, and never inline with enqueue', async () => {
    const { runner, tries } = setup(async () => {});
    await runner.startWorkers();
    const first = runner.enqueue('demo', { n: 5 }, { jobId: 'event-1' });
    expect(tries).toEqual([]);
    await first;
    await runner.enqueue('demo', { n: 6 }, { jobId: 'event-1' });
    await runner.idle();
    await runner.enqueue('demo', { n: 7 }, { jobId: 'event-1' });
    await runner.idle();
    expect(tries).toHaveLength(1);
    await expect(runner.enqueue('demo', { n: 8 }, { jobId: 'a:b' })).rejects.toThrow(/without ":"/);
    await expect(runner.enqueue('nope', { n: 9 })).rejects.toThrow(/no job named nope/);
  });

  it('keeps to the concurrency of the queue', async () => {
    let running = 0;
    let most = 0;
    const { clock, runner } = setup(async () => {
      running++;
      most = Math.max(most, running);
      await clock.sleep(10);
      running--;
    });
    await runner.startWorkers();
    for (let n = 0; n < 6; n++) await runner.enqueue('demo', { n });
    for (let i = 0; i < 4; i++) await clock.advance(10);
    await runner.idle();
    expect(most).toBe(2);
    expect((await runner.stats())[0]).toMatchObject({ waiting: 0, active: 0 });
  });

  it('a start delay waits on the clock', async () => {
    const { clock, runner, tries } = setup(async () => {});
    await runner.startWorkers();
    await runner.enqueue('demo', { n: 1 }, { delayMs: 500 });
    await runner.idle();
    expect((await runner.stats())[0]).toMatchObject({ delayed: 1 });
    await clock.advance(500);
    await runner.idle();
    expect(tries).toEqual([{ at: 500, attempt: 1 }]);
  });
});
