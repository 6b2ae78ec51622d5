import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import type pgModule from 'pg';

/**
 * The start-up lock (docs/architecture.md#storage): migrations, the key bootstrap and the
 * `flows/` import run while one process on a database holds it, so processes started at the
 * same moment on one database take turns, and each one after the first finds the work done.
 * It is held by the database itself, so a process that dies while holding it lets it go.
 */
export interface StartupLock {
  /**
   * Runs `work` holding the lock, waiting for another process first if it holds it;
   * `onWait` is called once when this process has to wait.
   */
  run<T>(work: () => Promise<T>, onWait?: () => void): Promise<T>;
}

/** Nothing to share with: an in-memory SQLite database belongs to its one connection. */
export const noStartupLock: StartupLock = { run: (work) => work() };

/** Ties the key to this product and schema: another deployment's schema in the same database starts independently. */
export function startupLockKey(schema: string): bigint {
  return createHash('sha256').update(`voice-agent-runtime:startup:${schema}`).digest().readBigInt64BE(0);
}

/**
 * PostgreSQL: a session-level advisory lock on one connection taken out of the pool for the
 * whole time, and released on that same connection (a session lock taken on one pooled
 * connection and "released" on another would stay held). The work itself runs on the pool's
 * other connections; the lock only orders the processes. If the release fails the connection
 * is destroyed rather than returned, which ends the session and so the lock.
 */
export function postgresStartupLock(pool: pgModule.Pool): StartupLock {
  return {
    async run(work, onWait) {
      const client = await pool.connect();
      let unlocked = false;
      try {
        const { rows } = await client.query<{ schema: string }>('select current_schema() as schema');
        const key = startupLockKey(rows[0]?.schema ?? 'public').toString();
        const tried = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1::bigint) as locked', [key]);
        if (!tried.rows[0]?.locked) {
          onWait?.();
          await client.query('select pg_advisory_lock($1::bigint)', [key]);
        }
        try {
          return await work();
        } finally {
          await client.query('select pg_advisory_unlock($1::bigint)', [key]);
          unlocked = true;
        }
      } finally {
        // A lock or unlock query that failed leaves the session's locks unknown: destroy the
        // connection rather than pool it, which ends its session and any lock with it.
        client.release(unlocked ? undefined : true);
      }
    },
  };
}

/** How often a waiting SQLite starter tries the lock again (another process's start-up takes ~100 ms or more). */
const SQLITE_LOCK_POLL_MS = 25;

/**
 * SQLite: a write lock (`BEGIN IMMEDIATE`) on a file next to the database, `<file>-startup-lock`,
 * held on a connection of its own. It cannot be the database file itself: a write lock there on
 * a second connection would shut out this process's own migrations. The lock connection never
 * waits inside SQLite (`timeout: 0`, since better-sqlite3 would block the event loop while
 * waiting); a busy lock is tried again every `pollMs`. The operating system drops the file lock
 * of a process that dies. The file stays (removing it while another process waits on it would
 * give two holders); it holds no data.
 */
export function sqliteStartupLock(databaseFile: string, pollMs = SQLITE_LOCK_POLL_MS): StartupLock {
  return {
    async run(work, onWait) {
      const lock = new Database(`${databaseFile}-startup-lock`, { timeout: 0 });
      try {
        let waited = false;
        for (;;) {
          try {
            lock.exec('BEGIN IMMEDIATE');
            break;
          } catch (err) {
            if (!String((err as { code?: unknown }).code).startsWith('SQLITE_BUSY')) throw err;
            if (!waited) onWait?.();
            waited = true;
            await new Promise((resolve) => setTimeout(resolve, pollMs));
          }
        }
        try {
          return await work();
        } finally {
          lock.exec('ROLLBACK');
        }
      } finally {
        lock.close();
      }
    },
  };
}
