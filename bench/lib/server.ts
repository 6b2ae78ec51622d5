import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The server under test, as a child process running the real `src/main.ts`
 * (node --import tsx), pinned to core 0 with taskset when available, with a
 * temporary SQLite file and flows directory, and every provider pointed at
 * the generator's loopback fakes.
 */

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const BENCH_NUMBER = '+15550199999';
export const ACCOUNT_SID = 'AC' + 'b'.repeat(32);
export const AUTH_TOKEN = 'bench-twilio-auth-token';
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';

export function hasTaskset(): boolean {
  return spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** Pins every thread of `pid` to `core`; false when it could not. */
export function pin(pid: number, core: number): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' }).status === 0;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolvePort(port));
    });
  });
}

export interface ServerChild {
  pid: number;
  url: string;
  /** Warning/error log lines the server printed (LOG_LEVEL=warn), last ones kept. */
  logLines: string[];
  logCount: number;
  /** Warning/error lines by their `msg` (the first 120 characters), to see which dominates. */
  logByMessage: Map<string, number>;
  exited: boolean;
  /** Where the CPU profile was written (after stop, with --profile). */
  profile: string | undefined;
  stop(): Promise<void>;
}

export interface ServerSpawnOptions {
  providers: { openaiUrl: string; elevenLabsUrl: string; deepgramUrl: string; twilioRestUrl: string; elevenLabsKey: string; deepgramKey: string };
  core: number | undefined;
  /** Directory for the V8 CPU profile (--cpu-prof) or undefined. */
  profileDir: string | undefined;
  /** The product (src/main.ts) or the floor (bench/floor/server.ts). */
  kind?: 'product' | 'floor';
  /** Run the TypeScript source through tsx instead of a compiled bundle. */
  tsx?: boolean;
  /**
   * The product from another checkout (its src/main.ts through tsx, its own
   * bench flow), for before/after tables. Undefined: this checkout.
   */
  productRoot?: string;
}

/**
 * Compiles the server as production does (`npm run build:server`): the bench
 * measures the process `npm start` runs, with no TypeScript loader in it. The
 * floor is compiled the same way, so both are plain Node.
 */
async function compiled(kind: 'product' | 'floor'): Promise<string> {
  const { bundle, SERVER_BUNDLE } = await import('../../scripts/build-server.js');
  if (kind === 'product') {
    await bundle(join(REPO_ROOT, 'src', 'main.ts'), SERVER_BUNDLE);
    return SERVER_BUNDLE;
  }
  const out = join(REPO_ROOT, 'dist', 'bench-floor', 'server.js');
  await bundle(join(REPO_ROOT, 'bench', 'floor', 'server.ts'), out);
  return out;
}

/** Variables the server reads; ours replace whatever the shell had. */
const CONFIG_VARS = /^(PORT|HOST|LOG_LEVEL|PUBLIC_URL|DATABASE_URL|REDIS_URL|ROLE|WORKERS|ADMIN_API_KEY|SECRET_KEY|SEAT_LIMIT|PHONE_NUMBERS|FLOWS_DIR|BENCH_STATS|SHUTDOWN_DRAIN_MS|TWILIO_.*|DEEPGRAM_.*|OPENAI_.*|ELEVENLABS_.*)$/;

export async function startServer(o: ServerSpawnOptions): Promise<ServerChild> {
  const dir = mkdtempSync(join(tmpdir(), 'voice-bench-'));
  const flowsDir = join(dir, 'flows');
  mkdirSync(flowsDir);
  const kind = o.kind ?? 'product';
  const root = kind === 'product' && o.productRoot ? resolve(o.productRoot) : REPO_ROOT;
  copyFileSync(join(root, 'bench', 'flows', 'bench.json'), join(flowsDir, 'bench.json'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !CONFIG_VARS.test(k)) env[k] = v;
  Object.assign(env, {
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: url,
    LOG_LEVEL: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn',
    DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`,
    ADMIN_API_KEY: ADMIN_KEY,
    SECRET_KEY: 'bench-secret-key-0123456789abcdef',
    PHONE_NUMBERS: `${BENCH_NUMBER}=bench`,
    FLOWS_DIR: flowsDir,
    BENCH_STATS: '1',
    // The bench stops the server once its calls are done: no drain wait for stragglers.
    SHUTDOWN_DRAIN_MS: '0',
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_API_BASE_URL: o.providers.twilioRestUrl,
    DEEPGRAM_API_KEY: o.providers.deepgramKey,
    DEEPGRAM_BASE_URL: o.providers.deepgramUrl,
    OPENAI_API_KEY: 'bench-openai-key',
    OPENAI_BASE_URL: o.providers.openaiUrl,
    ELEVENLABS_API_KEY: o.providers.elevenLabsKey,
    ELEVENLABS_BASE_URL: o.providers.elevenLabsUrl,
  });
  const tsx = o.tsx || root !== REPO_ROOT;
  const nodeArgs = tsx ? ['--import', 'tsx'] : [];
  // BENCH_SERVER_NODE_ARGS="--max-semi-space-size=32": V8 or Node flags for the server alone, to price them.
  nodeArgs.push(...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean));
  // Every thread writes its own profile (tsx's loader runs in a worker); stop() keeps the main thread's.
  const profileTmp = o.profileDir ? mkdtempSync(join(tmpdir(), 'voice-bench-prof-')) : undefined;
  if (profileTmp) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', profileTmp);
  if (tsx) nodeArgs.push(kind === 'floor' ? join(REPO_ROOT, 'bench', 'floor', 'server.ts') : join(root, 'src', 'main.ts'));
  else {
    // The product runs with the flags `npm start` gives node (package.json), so the bench measures that process.
    if (kind === 'product') nodeArgs.push(...(await import('../../scripts/build-server.js')).startNodeFlags());
    nodeArgs.push(await compiled(kind));
  }
  const [cmd, args] =
    o.core === undefined ? [process.execPath, nodeArgs] : ['taskset', ['-c', String(o.core), process.execPath, ...nodeArgs]];
  const child: ChildProcess = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const server: ServerChild = {
    pid: child.pid ?? -1,
    url,
    logLines: [],
    logCount: 0,
    logByMessage: new Map(),
    exited: false,
    profile: undefined,
    stop: async () => {
      await stopChild(child, server, dir);
      if (profileTmp && o.profileDir) server.profile = keepMainThreadProfile(profileTmp, o.profileDir);
    },
  };
  // BENCH_SERVER_LOG=<file>: every line the server printed, to follow one call through a run.
  const logFile = process.env.BENCH_SERVER_LOG;
  const onLine = (chunk: Buffer) => {
    if (logFile) appendFileSync(logFile, chunk);
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      server.logCount++;
      const msg = messageOf(line);
      server.logByMessage.set(msg, (server.logByMessage.get(msg) ?? 0) + 1);
      server.logLines.push(line.slice(0, 400));
      if (server.logLines.length > 20) server.logLines.shift();
    }
  };
  child.stdout?.on('data', onLine);
  child.stderr?.on('data', onLine);
  child.on('exit', () => (server.exited = true));
  children.add(child);
  child.on('exit', () => children.delete(child));
  try {
    await waitReady(url, server, 60_000);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

function messageOf(line: string): string {
  try {
    const r = JSON.parse(line) as { msg?: unknown; err?: { message?: unknown } };
    const msg = typeof r.msg === 'string' ? r.msg : '(no msg)';
    const why = typeof r.err?.message === 'string' ? `: ${r.err.message}` : '';
    return (msg + why).slice(0, 120);
  } catch {
    return line.slice(0, 120);
  }
}

async function waitReady(url: string, server: ServerChild, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exited) throw new Error(`server exited during start:\n${server.logLines.join('\n')}`);
    try {
      const res = await fetch(url + '/ready');
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server not ready after ${timeoutMs} ms:\n${server.logLines.join('\n')}`);
}

async function stopChild(child: ChildProcess, server: ServerChild, dir: string): Promise<void> {
  if (!server.exited) {
    child.kill('SIGTERM');
    const exited = await Promise.race([
      new Promise<boolean>((r) => child.once('exit', () => r(true))),
      new Promise<boolean>((r) => setTimeout(() => r(false), 15_000).unref()),
    ]);
    if (!exited) child.kill('SIGKILL');
  }
  // BENCH_KEEP_DB=1 keeps the run's SQLite file (the call history) to read afterwards.
  if (process.env.BENCH_KEEP_DB) process.stderr.write(`kept the server's database: ${join(dir, 'bench.db')}\n`);
  else rmSync(dir, { recursive: true, force: true });
}

/** Every child still running; killed when the bench exits, however it exits. */
const children = new Set<ChildProcess>();
/** Registers a child to be killed with the others when the bench exits. */
export function trackChild(c: ChildProcess): void {
  children.add(c);
  c.once('exit', () => children.delete(c));
}
export function killChildren(): void {
  for (const c of children) c.kill('SIGKILL');
}

/** V8 names profiles CPU.<date>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main thread. */
function keepMainThreadProfile(tmp: string, dir: string): string | undefined {
  const main = readdirSync(tmp).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  let kept: string | undefined;
  if (main) {
    mkdirSync(dir, { recursive: true });
    kept = join(dir, `server-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
    copyFileSync(join(tmp, main), kept);
  }
  rmSync(tmp, { recursive: true, force: true });
  return kept;
}
