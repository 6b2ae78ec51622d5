import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Invariant: WEB_CONCURRENCY=2 starts two server processes sharing one port under a primary
 * that serves nothing, replaces one that dies, and on SIGTERM stops them all and exits 0;
 * ROLE=worker starts a process that runs job workers and listens on no port. Both use the
 * real Redis under a prefix of their own, removed afterwards.
 */

const root = fileURLToPath(new URL('../../../', import.meta.url));
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

function start(env: Record<string, string>): {
  child: ChildProcess;
  records: Record<string, unknown>[];
  next: (match: (r: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>>;
  stderr: () => string;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_URL: `sqlite:${join(dir, `${env.ROLE ?? 'all'}.db`)}`,
      FLOWS_DIR: join(dir, 'flows'),
      REDIS_URL,
      REDIS_PREFIX: prefix,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const records: Record<string, unknown>[] = [];
  const waiting: { match: (r: Record<string, unknown>) => boolean; resolve: (r: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    records.push(r);
    for (const w of [...waiting]) {
      if (!w.match(r)) continue;
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve(r);
    }
  });
  const next = (match: (r: Record<string, unknown>) => boolean) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const seen = records.find(match);
      if (seen) return resolve(seen);
      waiting.push({ match, resolve });
      child.once('exit', (code) => reject(new Error(`exited (${code}) before the expected log line: ${stderr}`)));
    });
  return { child, records, next, stderr: () => stderr };
}

const listeningPort = (r: Record<string, unknown>) => /^Server listening at http:\/\/127\.0\.0\.1:(\d+)$/.exec(String(r.msg))?.[1];

describe('several processes', () => {
  it('WEB_CONCURRENCY=2: two server processes share a port, a dead one is replaced, SIGTERM stops all and exits 0', async () => {
    const s = start({ WEB_CONCURRENCY: '2' });
    const exited = once(s.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      await s.next((r) => r.msg === 'server processes started (WEB_CONCURRENCY)');
      const listening = () => s.records.filter((r) => listeningPort(r));
      await expect.poll(() => listening().length, { timeout: 60_000 }).toBe(2);
      const [a, b] = listening();
      expect(listeningPort(a!)).toBe(listeningPort(b!));
      expect(a!.pid).not.toBe(b!.pid);
      expect([a!.pid, b!.pid]).not.toContain(s.child.pid);
      const port = Number(listeningPort(a!));
      for (let i = 0; i < 4; i++) expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);

      process.kill(Number(a!.pid), 'SIGKILL');
      await s.next((r) => r.msg === 'a server process ended; starting another' && r.signal === 'SIGKILL');
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
      await s.next((r) => r.msg === 'job worker started (ROLE=worker): serving no HTTP');
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
