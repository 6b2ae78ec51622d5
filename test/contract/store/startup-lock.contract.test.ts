import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { ManualClock } from '../../../src/core/clock.js';
import { createLogger } from '../../../src/core/logger.js';
import { createPersistence, type Persistence } from '../../../src/container.js';
import { openDb, sql, type Db } from '../../../src/store/db.js';
import { migrations } from '../../../src/store/migrations/index.js';
import { startupLockKey } from '../../../src/store/startup-lock.js';
import { BACKENDS, postgresBackend, tempDir, validFlow } from './backends.js';

/**
 * Invariant (docs/architecture.md#storage): processes that start at the same moment on one
 * database take turns through the start-up work (migrations, key bootstrap, flows import)
 * under the database's start-up lock, so every one of them starts, and the work is done once:
 * the migrations applied once, one agent and one version per flow file, one generated admin
 * key and one secret, and nothing logged above info but the generated key's one warning.
 *
 * Each start here is its own connection (SQLite) or pool (PostgreSQL), which is what the
 * database sees of separate processes; test/integration/scale-out/concurrent-start.test.ts
 * does the same with real server processes.
 */

const STARTERS = 4;

function sink(into: string[]): Writable {
  return new Writable({
    write(chunk, _enc, cb) {
      into.push(String(chunk));
      cb();
    },
  });
}

/** A promise with its resolve, to hold a lock holder's work open until the test says so. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

async function count(db: Db, table: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db.db);
  return Number(rows[0]!.n);
}

describe.each(BACKENDS)('start-up lock on $name', (backend) => {
  let databaseUrl: string;
  let cleanupDb: () => Promise<void>;
  let flows: { dir: string; cleanup: () => void };
  const opened: { close(): Promise<void> }[] = [];

  beforeEach(async () => {
    ({ databaseUrl, cleanup: cleanupDb } = await backend.create());
    flows = tempDir('startup-flows-');
    writeFileSync(join(flows.dir, 'clinic.json'), JSON.stringify(validFlow('Clinic')));
    writeFileSync(join(flows.dir, 'pizza.json'), JSON.stringify(validFlow('Pizza', 'Ciao')));
  });

  afterEach(async () => {
    for (const o of opened.splice(0)) await o.close();
    await cleanupDb();
    flows.cleanup();
  });

  async function open(): Promise<Db> {
    const db = await openDb(databaseUrl);
    opened.push(db);
    return db;
  }

  it(`${STARTERS} starts at once on an empty database all succeed and do the start-up work once`, async () => {
    const lines: string[][] = Array.from({ length: STARTERS }, () => []);
    const banners: string[] = [];
    // No ADMIN_API_KEY and no SECRET_KEY: both are generated, so a race would make two.
    const config = loadConfig({ DATABASE_URL: databaseUrl, FLOWS_DIR: flows.dir, PHONE_NUMBERS: '+15550100001=clinic' });
    const results = await Promise.allSettled(
      lines.map((into) =>
        createPersistence({ config, logger: createLogger('info', sink(into)), clock: new ManualClock(), pending: new Set(), bannerOut: sink(banners) }),
      ),
    );
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    opened.push(...started);
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    const [first] = started as [Persistence];

    // The work was done by one start; the others found it done.
    const records = lines.map((l) => l.join('').split('\n').filter(Boolean).map((s) => JSON.parse(s) as { level: number; msg: string }));
    const by = (msg: string) => records.filter((rs) => rs.some((r) => r.msg === msg)).length;
    expect(by('database migrated')).toBe(1);
    expect(by('imported flows from disk')).toBe(1);
    const reports = started.map((p) => p.importReport);
    expect(reports.flatMap((r) => r.imported).sort()).toEqual(['clinic', 'pizza']);
    expect(reports.flatMap((r) => r.numbersAssigned)).toEqual(['+15550100001']);
    expect(reports.flatMap((r) => r.failed)).toEqual([]);
    expect(reports.filter((r) => r.skipped.length === 2)).toHaveLength(STARTERS - 1);

    // Nothing above info but the generated key's warning, once.
    const loud = records.flat().filter((r) => r.level >= 40);
    expect(loud.map((r) => r.msg)).toEqual([expect.stringMatching(/generated an admin API key/)]);
    expect(banners).toHaveLength(1);

    // One set of everything in the database.
    const db = first.db;
    const { rows: applied } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db.db);
    expect(applied.map((r) => r.name)).toEqual(Object.keys(migrations).sort());
    expect(await count(db, 'agents')).toBe(2);
    expect(await count(db, 'agent_versions')).toBe(2);
    expect(await count(db, 'phone_numbers')).toBe(1);
    expect(await count(db, 'api_keys')).toBe(1);
    for (const slug of ['clinic', 'pizza']) {
      expect(await first.agents.findBySlug(slug)).toMatchObject({ state: 'active', servedVersion: 1, latestVersion: 1 });
    }
    expect(new Set(started.map((p) => p.secretKey)).size).toBe(1);
  }, 30_000);

  it('a second holder waits (told once) until the first one’s work ends, and a failed work lets the lock go', async () => {
    const [a, b] = await Promise.all([open(), open()]);
    const order: string[] = [];
    const held = gate();
    const entered = gate();
    const first = a.startupLock.run(async () => {
      order.push('a');
      entered.open();
      await held.opened;
      order.push('a done');
    });
    await entered.opened;
    let waits = 0;
    const told = gate();
    const second = b.startupLock.run(
      async () => {
        order.push('b');
      },
      () => {
        waits++;
        told.open();
      },
    );
    await told.opened;
    expect(order).toEqual(['a']);
    held.open();
    await Promise.all([first, second]);
    expect(order).toEqual(['a', 'a done', 'b']);
    expect(waits).toBe(1);

    // A work that throws still lets the lock go: the next holder does not wait.
    await expect(a.startupLock.run(async () => Promise.reject(new Error('start-up failed')))).rejects.toThrow('start-up failed');
    let waitedAfterFailure = false;
    await b.startupLock.run(async () => {}, () => (waitedAfterFailure = true));
    expect(waitedAfterFailure).toBe(false);
  });
});

describe('start-up lock on postgres, per schema', () => {
  const cleanups: (() => Promise<void>)[] = [];
  const opened: Db[] = [];

  afterEach(async () => {
    for (const db of opened.splice(0)) await db.close();
    for (const c of cleanups.splice(0)) await c();
  });

  async function fresh(): Promise<Db> {
    const { databaseUrl, cleanup } = await postgresBackend.create();
    cleanups.push(cleanup);
    const db = await openDb(databaseUrl);
    opened.push(db);
    return db;
  }

  it('is released on the connection that took it, and schemas (deployments) do not wait for each other', async () => {
    const [one, two] = await Promise.all([fresh(), fresh()]);
    expect(startupLockKey(one.schema!)).not.toBe(startupLockKey(two.schema!));
    const held = gate();
    const entered = gate();
    const holding = one.startupLock.run(async () => {
      entered.open();
      await held.opened;
    });
    await entered.opened;
    // Held: any other session is refused the key.
    const key = startupLockKey(one.schema!).toString();
    const tryLock = async (db: Db) =>
      (await sql<{ locked: boolean }>`select pg_try_advisory_lock(${key}::bigint) as locked`.execute(db.db)).rows[0]!.locked;
    expect(await tryLock(two)).toBe(false);
    // Another schema's start-up does not wait for this one.
    let waited = false;
    await two.startupLock.run(async () => {}, () => (waited = true));
    expect(waited).toBe(false);
    held.open();
    await holding;
    // Released where it was taken: another session gets it at once (and gives it back).
    await two.db.connection().execute(async (conn) => {
      expect((await sql<{ locked: boolean }>`select pg_try_advisory_lock(${key}::bigint) as locked`.execute(conn)).rows[0]!.locked).toBe(true);
      await sql`select pg_advisory_unlock(${key}::bigint)`.execute(conn);
    });
  });
});
