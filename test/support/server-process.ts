import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * A real server process (`node --import tsx src/main.ts`) on 127.0.0.1 and a
 * port of its own, for tests that need several processes: its JSON log lines
 * are collected, and `next` waits for one. Only PATH and HOME are inherited,
 * so the test's environment decides everything else.
 */
export interface ServerProcess {
  child: ChildProcess;
  /** http://127.0.0.1:PORT once listening. */
  url: string;
  /** The live-state process id it logged (with REDIS_URL). */
  processId: string | undefined;
  records: Record<string, unknown>[];
  next(match: (r: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
  stderr(): string;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
}

const root = fileURLToPath(new URL('../../', import.meta.url));
const listeningPort = (r: Record<string, unknown>) => /^Server listening at http:\/\/127\.0\.0\.1:(\d+)$/.exec(String(r.msg))?.[1];

/** The process and its collected log lines, before it listens (or for one that never does). */
export interface SpawnedServer {
  child: ChildProcess;
  records: Record<string, unknown>[];
  next: ServerProcess['next'];
  stderr(): string;
  /** Resolves once the process has exited. */
  exited: Promise<void>;
}

export function spawnServerProcess(env: Record<string, string>): SpawnedServer {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
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
  const next: ServerProcess['next'] = (match, what) =>
    new Promise((resolve, reject) => {
      const seen = records.find(match);
      if (seen) return resolve(seen);
      waiting.push({ match, resolve });
      void exited.then(() => reject(new Error(`the server exited before ${what}: ${stderr.slice(-2000)}`)));
    });
  return { child, records, next, stderr: () => stderr, exited };
}

export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const { child, records, next, stderr, exited } = spawnServerProcess(env);
  try {
    const listening = await next((r) => listeningPort(r) !== undefined, 'listening');
    const live = records.find((r) => r.msg === 'live state in Redis');
    return {
      child,
      url: `http://127.0.0.1:${listeningPort(listening)}`,
      processId: typeof live?.processId === 'string' ? live.processId : undefined,
      records,
      next,
      stderr,
      async kill() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}
