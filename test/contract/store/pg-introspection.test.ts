import { afterEach, describe, expect, it } from 'vitest';
import { openDb, sql, type Db } from '../../../src/store/db.js';
import { migrateToLatest } from '../../../src/store/migrate.js';
import { postgresBackend } from './backends.js';

/**
 * The store contract's rare "schema … does not exist" during migration, under load: the
 * migrator asks the introspector whether its tables exist, and Kysely's stock PostgreSQL
 * introspector reads every schema in the database, resolving each one's name again while
 * it reads. A schema another test dropped after the query took its snapshot then fails the
 * whole query. A repeatable-read transaction holds that snapshot still, so the race is
 * reproduced every time instead of once in a while.
 */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function migrated(): Promise<{ db: Db; schema: string; drop: () => Promise<void> }> {
  const created = await postgresBackend.create();
  const db = await openDb(created.databaseUrl);
  await migrateToLatest(db);
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await db.close();
    await created.cleanup();
  };
  cleanups.push(drop);
  return { db, schema: db.schema!, drop };
}

describe('PostgreSQL introspection beside schemas being dropped', () => {
  it('a schema dropped by another connection while the migrator looks for its tables does not fail the migration (schema "…" does not exist)', async () => {
    const ours = await migrated();
    const theirs = await migrated();
    const seen = await ours.db.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        await sql`select 1`.execute(trx); // the snapshot: their schema still exists in it
        await theirs.drop(); // another connection drops it, as a finished test does
        return trx.introspection.getTables({ withInternalKyselyTables: true });
      });
    // Only our schema's tables, the migrator's own among them.
    expect(new Set(seen.map((t) => t.schema))).toEqual(new Set([ours.schema]));
    expect(seen.map((t) => t.name)).toEqual(expect.arrayContaining(['kysely_migration', 'kysely_migration_lock', 'agents', 'calls']));
    const migrations = seen.find((t) => t.name === 'kysely_migration')!;
    expect(migrations.columns.map((c) => [c.name, c.dataType, c.isNullable])).toEqual([
      ['name', 'varchar', false],
      ['timestamp', 'varchar', false],
    ]);
    // And a migration run again (nothing to do) is unaffected.
    expect(await migrateToLatest(ours.db)).toEqual([]);
  });

  it('without internal tables, the migrator tables are left out', async () => {
    const ours = await migrated();
    const names = (await ours.db.db.introspection.getTables()).map((t) => t.name);
    expect(names).toContain('agents');
    expect(names).not.toContain('kysely_migration');
  });
});
