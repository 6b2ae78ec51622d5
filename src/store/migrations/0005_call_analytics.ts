import type { Kysely } from 'kysely';
import { callResultOf } from '../../calls/call-result.js';
import type { CallRecord } from '../../calls/call-record.js';
import { turnMetricsRow } from '../turn-metrics-rows.js';

/**
 * Analytics in SQL (docs/metrics.md#analytics): each call's result class and
 * whether its flow asked for a transfer as columns of `calls`, and one row per
 * measured agent reply in `call_turn_metrics`, so counts, rates and latency
 * percentiles are computed by the database without reading JSON. Existing
 * history is filled in from the stored records and events.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a migration sees the schema as it is at this point, not the app's types
type AnyDb = Kysely<any>;

const BATCH = 500;

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('calls').addColumn('result', 'text').execute();
  await db.schema
    .alterTable('calls')
    .addColumn('transfer_requested', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  await db.schema
    .createTable('call_turn_metrics')
    // The id of the `turn.agent` event it came from.
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('call_sid', 'text', (c) => c.notNull())
    // The agent and version that spoke the reply (a call handed to another agent keeps both apart).
    .addColumn('agent_id', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('endpoint_ms', 'integer')
    .addColumn('response_ms', 'integer')
    .addColumn('llm_first_token_ms', 'integer')
    .addColumn('llm_first_sentence_ms', 'integer')
    .addColumn('tts_first_byte_ms', 'integer')
    .addColumn('overhead_ms', 'integer')
    .execute();
  await db.schema.createIndex('call_turn_metrics_call').on('call_turn_metrics').column('call_sid').execute();
  await db.schema.createIndex('call_turn_metrics_agent').on('call_turn_metrics').columns(['agent_id', 'version', 'at']).execute();
  // Transfer flags are found by event type.
  await db.schema.createIndex('call_events_type').on('call_events').columns(['type', 'call_sid']).execute();

  await backfill(db as AnyDb);
}

async function backfill(db: AnyDb): Promise<void> {
  for (let after = ''; ; ) {
    const rows: { call_sid: string; record: string }[] = await db
      .selectFrom('calls')
      .select(['call_sid', 'record'])
      .where('call_sid', '>', after)
      .orderBy('call_sid')
      .limit(BATCH)
      .execute();
    for (const row of rows) {
      const result = callResultOf(JSON.parse(row.record) as CallRecord);
      if (result) await db.updateTable('calls').set({ result }).where('call_sid', '=', row.call_sid).execute();
    }
    if (rows.length < BATCH) break;
    after = rows.at(-1)!.call_sid;
  }
  await db
    .updateTable('calls')
    .set({ transfer_requested: 1 })
    .where('call_sid', 'in', db.selectFrom('call_events').select('call_sid').where('type', '=', 'transfer.requested'))
    .execute();
  for (let after = ''; ; ) {
    const rows: { id: string; data: string; agent_id: string; version: number }[] = await db
      .selectFrom('call_events as e')
      .innerJoin('calls as c', 'c.call_sid', 'e.call_sid')
      .select(['e.id', 'e.data', 'c.agent_id', 'c.version'])
      .where('e.type', '=', 'turn.agent')
      .where('e.id', '>', after)
      .orderBy('e.id')
      .limit(BATCH)
      .execute();
    const turns = rows.flatMap((r) => turnMetricsRow(r.id, JSON.parse(r.data), { agentId: r.agent_id, version: Number(r.version) }) ?? []);
    if (turns.length > 0) await db.insertInto('call_turn_metrics').values(turns).execute();
    if (rows.length < BATCH) break;
    after = rows.at(-1)!.id;
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('call_events_type').ifExists().execute();
  await db.schema.dropTable('call_turn_metrics').ifExists().execute();
  await db.schema.alterTable('calls').dropColumn('transfer_requested').execute();
  await db.schema.alterTable('calls').dropColumn('result').execute();
}
