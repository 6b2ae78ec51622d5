import type { Kysely } from 'kysely';

/**
 * Call history (docs/architecture.md#storage): one row per CallSid with the searchable fields as
 * columns and the whole record as JSON text (its shape grows with the pipeline,
 * and nothing queries inside it), plus one row per call event. No foreign key to
 * agents: deleting an agent must not delete what its calls did.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('calls')
    .addColumn('call_sid', 'text', (c) => c.primaryKey())
    .addColumn('agent_id', 'text', (c) => c.notNull())
    .addColumn('slug', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('direction', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('from_number', 'text', (c) => c.notNull())
    .addColumn('to_number', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text')
    .addColumn('record', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  // Lists are newest first, optionally for one agent or one state.
  await db.schema.createIndex('calls_created').on('calls').columns(['created_at', 'call_sid']).execute();
  await db.schema.createIndex('calls_agent_created').on('calls').columns(['agent_id', 'created_at']).execute();
  await db.schema.createIndex('calls_state_created').on('calls').columns(['state', 'created_at']).execute();

  await db.schema
    .createTable('call_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('call_sid', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('call_events_call').on('call_events').columns(['call_sid', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('call_events').ifExists().execute();
  await db.schema.dropTable('calls').ifExists().execute();
}
