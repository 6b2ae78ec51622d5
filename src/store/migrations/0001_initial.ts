import type { Kysely } from 'kysely';
import { dialectOf } from '../db.js';

/**
 * Every table of the first release. Column types are chosen to mean the same on
 * SQLite and PostgreSQL: text for ids and JSON, bigint for epoch-ms times, and a
 * binary column that is `bytea` on PostgreSQL and `blob` on SQLite.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const binary = dialectOf(db) === 'postgres' ? 'bytea' : 'blob';

  await db.schema
    .createTable('agents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('slug', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('served_version', 'integer')
    .addColumn('latest_version', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('draft_flow', 'text')
    .addColumn('draft_revision', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('draft_updated_at', 'bigint', (c) => c.notNull())
    .addColumn('unavailable', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('agent_versions')
    .addColumn('agent_id', 'text', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('flow', 'text', (c) => c.notNull())
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('note', 'text')
    .addColumn('draft_revision', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('agent_versions_pk', ['agent_id', 'version'])
    .execute();

  await db.schema
    .createTable('agent_audit')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('agent_id', 'text', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('from_state', 'text', (c) => c.notNull())
    .addColumn('to_state', 'text', (c) => c.notNull())
    .addColumn('from_version', 'integer')
    .addColumn('to_version', 'integer')
    .addColumn('reason', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('agent_audit_agent').on('agent_audit').columns(['agent_id', 'id']).execute();

  await db.schema
    .createTable('phone_numbers')
    .addColumn('e164', 'text', (c) => c.primaryKey())
    .addColumn('agent_id', 'text', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('phone_numbers_agent').on('phone_numbers').column('agent_id').execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .execute();

  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('tts_cache')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('voice_key', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('audio', binary, (c) => c.notNull())
    .addColumn('bytes', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('tts_cache_last_used').on('tts_cache').column('last_used_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['tts_cache', 'settings', 'api_keys', 'phone_numbers', 'agent_audit', 'agent_versions', 'agents']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
