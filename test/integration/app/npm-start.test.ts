import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeFlags } from '../../../scripts/build-server.js';

const START_NODE_FLAGS = startNodeFlags();

/**
 * Invariant: `npm start` is the server process itself (npm execs node on the compiled bundle that
 * `prestart` just built, no tsx or shell in
 * between), so a SIGTERM sent to it drains the server, exits 0 and frees the port, instead of
 * orphaning a server that keeps listening. Also the first start as a new user sees it: JSON logs
 * when stdout is not a terminal, the generated admin key in a banner on stderr, and a warning
 * naming TWILIO_AUTH_TOKEN.
 */

const root = fileURLToPath(new URL('../../../', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'npm-start-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Only what npm and node need: none of the developer's server variables leak in. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

describe('npm start', () => {
  it('stops on SIGTERM to the npm process: drains, exits 0, frees the port', async () => {
    const child = spawn('npm', ['start', '--silent'], {
      cwd: root,
      env: {
        ...baseEnv(),
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        DATABASE_URL: `sqlite:${join(dir, 'runtime.db')}`,
        FLOWS_DIR: join(dir, 'flows'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    // stdout is shared with the server process: it closes only once every process holding it is gone.
    const stdoutClosed = once(child.stdout!, 'close');
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += String(d)));
    const records: Record<string, unknown>[] = [];
    try {
      const listening = new Promise<number>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`npm start exited early (${code}): ${stderr}`)));
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const record = JSON.parse(line) as Record<string, unknown>;
          records.push(record);
          const port = /^Server listening at http:\/\/127\.0\.0\.1:(\d+)$/.exec(String(record.msg))?.[1];
          if (port) resolve(Number(port));
        });
      });
      const port = await listening;
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      // The process serving is plain node on the compiled bundle: no TypeScript loader in it.
      const cmdline = (await readFile(`/proc/${String(records[0]!.pid)}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      expect(cmdline.slice(1)).toEqual([...START_NODE_FLAGS, 'dist/server/main.js']);
      expect(cmdline.join(' ')).not.toMatch(/tsx/);

      // Ready only once start-up's garbage is collected (src/core/startup-gc.ts), so no call pays for it.
      let ready = 0;
      for (let i = 0; i < 100 && ready !== 200; i++) {
        ready = (await fetch(`http://127.0.0.1:${port}/ready`)).status;
        if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready).toBe(200);
      const collected = records.find((r) => r.msg === 'start-up garbage collected');
      expect(collected).toBeDefined();
      expect(Number(collected!.heapUsedAfterMb)).toBeLessThan(Number(collected!.heapUsedBeforeMb));

      expect(stderr).toMatch(/ADMIN API KEY[\s\S]*vak_[A-Za-z0-9_-]{43}[\s\S]*If it is lost/);
      expect(records.some((r) => String(r.msg).startsWith('TWILIO_AUTH_TOKEN is not set'))).toBe(true);
      expect(JSON.stringify(records)).not.toMatch(/vak_/);

      child.kill('SIGTERM');
      const [code, signal] = await exited;
      await stdoutClosed;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(records.map((r) => r.msg)).toEqual(expect.arrayContaining(['draining', 'stopped']));
      await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  // Generous: loading the server's modules through tsx takes seconds of CPU, more on a busy machine.
  }, 60_000);
});

describe('the production start flags', () => {
  it('the Dockerfile runs the bundle with the same node flags as npm start', async () => {
    const dockerfile = await readFile(new URL('../../../Dockerfile', import.meta.url), 'utf8');
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(cmd && (JSON.parse(cmd) as string[])).toEqual(['node', ...START_NODE_FLAGS, 'dist/server/main.js']);
    expect(START_NODE_FLAGS).toContain('--initial-old-space-size=160');
    expect(START_NODE_FLAGS).toContain('--expose-gc');
  });
});
