import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { MemoryJobRunner } from '../../../src/jobs/memory-runner.js';
import type { ContainerOverrides } from '../../../src/container.js';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { TEST_REDIS_URL, deletePrefix, uniquePrefix } from './redis-test.js';

/**
 * Server processes behind one load balancer, in one test process: each is a
 * whole app and container of its own (its own process id, control channel,
 * feeds and memory), on the real Redis under a prefix of this run and on one
 * SQLite file. Jobs run in-process (the queues are not under test here); the
 * clock is one manual clock, so nothing waits on real time.
 */
export interface Processes {
  clock: ManualClock;
  prefix: string;
  apps: TestApp[];
  /** Starts one more process on the same Redis and database (a process started mid-call, say). */
  start(overrides?: ContainerOverrides): Promise<TestApp>;
  close(): Promise<void>;
}

export async function startProcesses(count: number, options: { env?: Record<string, string>; overrides?: () => ContainerOverrides } = {}): Promise<Processes> {
  const clock = new ManualClock();
  const prefix = uniquePrefix();
  const apps: TestApp[] = [];
  const env = { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, ...options.env };
  const start = async (extra: ContainerOverrides = {}): Promise<TestApp> => {
    const first = apps[0];
    const app = await buildTestApp({
      ...(first ? { databaseUrl: first.databaseUrl } : {}),
      env: { ...env, ...(first ? { ADMIN_API_KEY: first.adminKey } : {}) },
      overrides: { clock, jobs: new MemoryJobRunner({ clock, logger: silentLogger }), ...options.overrides?.(), ...extra },
    });
    apps.push(app);
    return app;
  };
  try {
    for (let i = 0; i < count; i++) await start();
  } catch (err) {
    for (const a of apps.reverse()) await a.close().catch(() => undefined);
    await deletePrefix(prefix);
    throw err;
  }
  return {
    clock,
    prefix,
    apps,
    start,
    async close() {
      // The first keeps the database file until last.
      for (const a of [...apps].reverse()) await a.close().catch(() => undefined);
      apps.length = 0;
      await deletePrefix(prefix);
    },
  };
}

/** Polls `done` on real ticks (I/O between processes is real), failing after `maxMs`. */
export async function eventually(done: () => boolean | Promise<boolean>, what: string, maxMs = 5_000): Promise<void> {
  const until = Date.now() + maxMs;
  while (!(await done())) {
    if (Date.now() > until) throw new Error(`waited ${maxMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
