import { Migrator, type MigrationProvider } from 'kysely';
import type { Db } from './db.js';
import { migrations } from './migrations/index.js';

const provider: MigrationProvider = { getMigrations: async () => migrations };

/**
 * Brings the schema up to date. Kysely's own migration lock orders concurrent runs on PostgreSQL
 * (an advisory lock, one key for the whole database) but is a no-op on SQLite, where two
 * processes would both run the first migration: callers that may start alongside others run
 * this under `store.startupLock` (src/store/startup-lock.ts), which covers both.
 */
export async function migrateToLatest(store: Db): Promise<string[]> {
  const migrator = new Migrator({
    db: store.db,
    provider,
    // Kysely looks for its own tables across every schema it can see; pin it to ours.
    ...(store.dialect === 'postgres' ? { migrationTableSchema: store.schema ?? 'public' } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    const reason = error instanceof Error ? error.message : String(error ?? 'unknown error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${reason}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
