import type { Kysely } from 'kysely';

/**
 * Outbound calls and recordings (docs/outbound.md): an agent's outbound limits
 * (JSON text; null means the defaults), and a call's recording as columns, so
 * retention finds old recordings without reading each record's JSON. Times are
 * epoch-ms bigints on both dialects.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('agents').addColumn('outbound', 'text').execute();
  await db.schema.alterTable('calls').addColumn('recording_sid', 'text').execute();
  await db.schema.alterTable('calls').addColumn('recording_url', 'text').execute();
  await db.schema.alterTable('calls').addColumn('recording_duration_s', 'integer').execute();
  await db.schema.alterTable('calls').addColumn('recording_status', 'text').execute();
  await db.schema.alterTable('calls').addColumn('recording_deleted_at', 'bigint').execute();
  // Retention: recordings not yet deleted, oldest first.
  await db.schema.createIndex('calls_recording_created').on('calls').columns(['recording_status', 'created_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('calls_recording_created').ifExists().execute();
  for (const c of ['recording_deleted_at', 'recording_status', 'recording_duration_s', 'recording_url', 'recording_sid']) {
    await db.schema.alterTable('calls').dropColumn(c).execute();
  }
  await db.schema.alterTable('agents').dropColumn('outbound').execute();
}
