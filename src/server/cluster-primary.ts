import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../core/logger.js';

/**
 * The primary of `WEB_CONCURRENCY` > 1 (docs/architecture.md#several-processes): it serves
 * nothing itself; it starts that many server processes, which share the port through
 * node:cluster, and keeps that many running. The first one starts alone and the rest once it
 * listens, so first-start work (migrations, the generated keys) happens once, not in a race.
 * SIGTERM / SIGINT go to every process, each drains its own calls, and the primary exits
 * when they all have: 0 when every one exited cleanly.
 */
export function runClusterPrimary(count: number, logger: Logger): void {
  let stopping = false;
  let failed = false;
  const recentDeaths: number[] = [];

  const fork = (): Worker => cluster.fork();
  const alive = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());

  const first = fork();
  first.once('listening', () => {
    for (let i = 1; i < count; i++) fork();
    logger.info({ processes: count }, 'server processes started (WEB_CONCURRENCY)');
  });

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (code !== 0) failed = true;
      if (alive().length === 0) process.exit(failed ? 1 : 0);
      return;
    }
    // A process that keeps dying at start would be restarted in a tight loop: give up instead.
    const now = Date.now();
    recentDeaths.push(now);
    while (recentDeaths.length && now - recentDeaths[0]! > 60_000) recentDeaths.shift();
    if (recentDeaths.length > count * 3) {
      logger.fatal({ deaths: recentDeaths.length }, 'server processes keep dying; stopping');
      stop('SIGTERM');
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'a server process ended; starting another');
    fork();
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping server processes');
    for (const w of alive()) w.process.kill(signal);
    if (alive().length === 0) process.exit(failed ? 1 : 0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
