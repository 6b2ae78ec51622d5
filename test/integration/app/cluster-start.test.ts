import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServerProcess, type SpawnedServer } from '../../support/server-process.js';

/**
 * Invariant: WEB_CONCURRENCY=2 starts two server processes sharing one port under a primary
 * that serves nothing, replaces one that dies, and on SIGTERM stops them all and exits 0;
 * ROLE=worker starts a process that runs job workers and listens on no port. Both use the
 * real Redis under a prefix of their own, removed afterwards.
 */

const REDIS_URL = 'redis://127.0.0.1:6379';
const prefix = `test-cluster-${process.pid}-${Date.now()}:`;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cluster-start-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

function start(env: Record<string, string>): SpawnedServer {
  return spawnServerProcess({
    DATABASE_URL: `sqlite:${join(dir, `${env.ROLE ?? 'all'}.db`)}`,
    FLOWS_DIR: join(dir, 'flows'),
    REDIS_URL,
    REDIS_PREFIX: prefix,
    ...env,
  });
}

const listeningPort = (r: Record<string, unknown>) => /^Server listening at http:\/\/127\.0\.0\.1:(\d+)$/.exec(String(r.msg))?.[1];

describe('several processes', () => {
  it('WEB_CONCURRENCY=2: two server processes share a port, a dead one is replaced, SIGTERM stops all and exits 0', async () => {
    const s = start({ WEB_CONCURRENCY: '2' });
    const exited = once(s.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      await s.next((r) => r.msg === 'server processes started (WEB_CONCURRENCY)', 'the processes started');
      const listening = () => s.records.filter((r) => listeningPort(r));
      await expect.poll(() => listening().length, { timeout: 60_000 }).toBe(2);
      const [a, b] = listening();
      expect(listeningPort(a!)).toBe(listeningPort(b!));
      expect(a!.pid).not.toBe(b!.pid);
      expect([a!.pid, b!.pid]).not.toContain(s.child.pid);
      const port = Number(listeningPort(a!));
      for (let i = 0; i < 4; i++) expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);

      process.kill(Number(a!.pid), 'SIGKILL');
      await s.next((r) => r.msg === 'a server process ended; starting another' && r.signal === 'SIGKILL', 'the replacement');
      await expect.poll(() => listening().length, { timeout: 60_000 }).toBe(3);
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);

      s.child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
      await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    } finally {
      if (s.child.exitCode === null) s.child.kill('SIGKILL');
    }
  }, 120_000);

  it('ROLE=worker runs job workers on no port and stops on SIGTERM', async () => {
    const s = start({ ROLE: 'worker' });
    const exited = once(s.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      await s.next((r) => r.msg === 'job worker started (ROLE=worker): serving no HTTP', 'the worker started');
      expect(s.records.some((r) => listeningPort(r))).toBe(false);
      s.child.kill('SIGTERM');
      const [code, signal] = await exited;
      expect({ code, signal, stderr: s.stderr() }).toMatchObject({ code: 0, signal: null });
      expect(s.records.map((r) => r.msg)).toContain('stopped');
    } finally {
      if (s.child.exitCode === null) s.child.kill('SIGKILL');
    }
  }, 90_000);
});
