import { CompiledQuery, type Kysely } from 'kysely';
import { systemClock, type Clock } from '../core/clock.js';
import type { CallRecord } from '../calls/call-record.js';
import type { CallEvent } from '../calls/events.js';
import type { CallHistory, CallPage, CallPageRequest } from '../calls/history.js';
import type { CallRepository } from '../calls/repository.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { AppError } from '../core/errors.js';
import { dialectOf, isUniqueViolation, type Dialect } from './db.js';
import { newId } from './ids.js';
import { turnMetricsRow } from './turn-metrics-rows.js';
import { callResultOf } from '../calls/call-result.js';
import type { CallEventsTable, CallsTable, CallTurnMetricsTable, DatabaseSchema } from './tables.js';
import type { PostCallResult } from '../calls/post-call.js';

/**
 * Call records and their events on SQL (migration 0002), the same Kysely code
 * on SQLite and PostgreSQL. The record is stored whole as JSON next to the
 * columns lists filter and sort on. It implements the ledger's CallRepository
 * too, so a deployment can keep live records here directly.
 */
export class SqlCallStore implements CallHistory, CallRepository {
  private readonly dialect: Dialect;
  /** The upsert's SQL text by row count (saveAll). */
  private readonly upsertTexts = new Map<number, string>();
  /**
   * The events' and turn metrics' statements by kind, table and row count (`sqlText`): bounded by
   * the chunk sizes and the recorder's batch size.
   */
  private readonly texts = new Map<string, string>();

  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly clock: Clock = systemClock,
  ) {
    this.dialect = dialectOf(db as unknown as Kysely<unknown>);
  }

  save(record: Readonly<CallRecord>): Promise<void> {
    return this.saveAll([record]);
  }

  /**
   * One multi-row upsert (the recorder saves every changed call of a flush this way): the
   * same rows Kysely's `insertInto(…).onConflict(…).doUpdateSet(row)` wrote, with the SQL
   * text made once per row count instead of built and compiled for each call, and each value
   * bound once (`excluded.*`), not twice.
   */
  async saveAll(records: readonly Readonly<CallRecord>[]): Promise<void> {
    if (records.length === 0) return;
    const parameters: unknown[] = [];
    for (const record of records) {
      const row = this.toRow(record);
      for (const column of SAVED_CALL_COLUMNS) parameters.push(row[column]);
    }
    let text = this.upsertTexts.get(records.length);
    if (text === undefined) {
      text = callsUpsertSql(this.dialect, records.length);
      this.upsertTexts.set(records.length, text);
    }
    await this.db.executeQuery(CompiledQuery.raw(text, parameters));
  }

  /**
   * One transaction per batch, all or nothing, so a retried batch is never stored twice: the
   * events in multi-row inserts of at most EVENTS_PER_INSERT rows (under SQLite's parameter
   * limit), then their analytics columns. The same statements Kysely's builder wrote, with each
   * SQL text made once per row count (`sqlText`) instead of built and compiled for every batch.
   */
  async appendEvents(events: readonly CallEvent[]): Promise<void> {
    if (events.length === 0) return;
    const ids = events.map((e) => newId('ce', e.at));
    await this.db.transaction().execute(async (tx) => {
      for (let i = 0; i < events.length; i += EVENTS_PER_INSERT) {
        const end = Math.min(i + EVENTS_PER_INSERT, events.length);
        const parameters: unknown[] = [];
        for (let j = i; j < end; j++) {
          const e = events[j]!;
          parameters.push(ids[j], e.callSid, e.type, e.at, JSON.stringify(e));
        }
        await tx.executeQuery(CompiledQuery.raw(this.sqlText('insert', 'call_events', EVENT_COLUMNS, end - i), parameters));
      }
      await this.indexForAnalytics(tx, events, ids);
    });
  }

  /**
   * What analytics query as columns (docs/metrics.md#analytics): the transfer
   * flag on the call, and one row per measured agent reply, attributed to the
   * agent and version the call has now (the recorder saves the record before
   * its events, so the row is there).
   */
  private async indexForAnalytics(tx: Kysely<DatabaseSchema>, events: readonly CallEvent[], ids: readonly string[]): Promise<void> {
    const transferred = [...new Set(events.filter((e) => e.type === 'transfer.requested').map((e) => e.callSid))];
    if (transferred.length > 0) {
      await tx.updateTable('calls').set({ transfer_requested: 1 }).where('call_sid', 'in', transferred).execute();
    }
    const measured = events.flatMap((e, i) => (e.type === 'turn.agent' && typeof e.metrics?.responseMs === 'number' ? [{ e, id: ids[i]! }] : []));
    if (measured.length === 0) return;
    const sids = [...new Set(measured.map((m) => m.e.callSid))];
    const speakers = CompiledQuery.raw(this.sqlText('speakers', 'calls', SPEAKER_COLUMNS, sids.length), sids) as CompiledQuery<Pick<CallsTable, 'call_sid' | 'agent_id' | 'version'>>;
    const { rows: calls } = await tx.executeQuery(speakers);
    const speaker = new Map(calls.map((c) => [c.call_sid, { agentId: c.agent_id, version: Number(c.version) }]));
    const turns = measured.flatMap(({ e, id }) => {
      const who = speaker.get(e.callSid);
      return (who && turnMetricsRow(id, e, who)) || [];
    });
    for (let i = 0; i < turns.length; i += TURN_METRICS_PER_INSERT) {
      const chunk = turns.slice(i, i + TURN_METRICS_PER_INSERT);
      const parameters: unknown[] = [];
      for (const row of chunk) for (const column of TURN_METRICS_COLUMNS) parameters.push(row[column]);
      await tx.executeQuery(CompiledQuery.raw(this.sqlText('insert', 'call_turn_metrics', TURN_METRICS_COLUMNS, chunk.length), parameters));
    }
  }

  /** A statement's SQL text for `count` rows (or `in` values), made on first use (`insertSql`, `speakersSql`). */
  private sqlText(kind: 'insert' | 'speakers', table: string, columns: readonly string[], count: number): string {
    const key = `${kind} ${table} ${count}`;
    let text = this.texts.get(key);
    if (text === undefined) {
      text = kind === 'insert' ? insertSql(this.dialect, table, columns, count) : selectInSql(this.dialect, table, columns, 'call_sid', count);
      this.texts.set(key, text);
    }
    return text;
  }

  async get(callSid: string): Promise<CallRecord | undefined> {
    const row = await this.db.selectFrom('calls').select('record').where('call_sid', '=', callSid).executeTakeFirst();
    return row ? (JSON.parse(row.record) as CallRecord) : undefined;
  }

  /** A record read from SQL is this caller's own already. */
  peek(callSid: string): Promise<CallRecord | undefined> {
    return this.get(callSid);
  }

  /**
   * Post-call processing's result (migration 0007): its own column, which `save` and `update`
   * never write, so the recorder's flushes keep it.
   */
  async savePostCall(callSid: string, result: PostCallResult): Promise<void> {
    await this.db.updateTable('calls').set({ post_call: JSON.stringify(result) }).where('call_sid', '=', callSid).execute();
  }

  async getPostCall(callSid: string): Promise<PostCallResult | null> {
    const row = await this.db.selectFrom('calls').select('post_call').where('call_sid', '=', callSid).executeTakeFirst();
    return row?.post_call ? (JSON.parse(row.post_call) as PostCallResult) : null;
  }

  async events(callSid: string): Promise<CallEvent[]> {
    const rows = await this.db.selectFrom('call_events').select('data').where('call_sid', '=', callSid).orderBy('id').execute();
    return rows.map((r) => JSON.parse(r.data) as CallEvent);
  }

  async page(request: CallPageRequest): Promise<CallPage> {
    const after = decodeCallCursor(request.cursor);
    let q = this.db
      .selectFrom('calls')
      .select(['call_sid', 'created_at', 'record'])
      .orderBy('created_at', 'desc')
      .orderBy('call_sid', 'desc')
      .limit(request.limit + 1);
    if (request.agentId !== undefined) q = q.where('agent_id', '=', request.agentId);
    if (request.state !== undefined) q = q.where('state', '=', request.state);
    if (after) {
      q = q.where((eb) =>
        eb.or([eb('created_at', '<', after.createdAt), eb.and([eb('created_at', '=', after.createdAt), eb('call_sid', '<', after.callSid)])]),
      );
    }
    const rows = await q.execute();
    const hasMore = rows.length > request.limit;
    const kept = hasMore ? rows.slice(0, request.limit) : rows;
    const last = kept.at(-1);
    return {
      items: kept.map((r) => JSON.parse(r.record) as CallRecord),
      nextCursor: hasMore && last ? encodeCursor(`${last.created_at}:${last.call_sid}`) : null,
    };
  }

  // CallRepository (the live ledger's port)

  async createIfAbsent(record: CallRecord): Promise<{ record: CallRecord; created: boolean }> {
    try {
      await this.db.insertInto('calls').values(this.toRow(record)).execute();
      return { record: structuredClone(record), created: true };
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const existing = await this.get(record.callSid);
      if (!existing) throw err;
      return { record: existing, created: false };
    }
  }

  async update(callSid: string, change: (record: CallRecord) => void): Promise<CallRecord | undefined> {
    return this.db.transaction().execute(async (tx) => {
      let q = tx.selectFrom('calls').select('record').where('call_sid', '=', callSid);
      // Concurrent updates of one call (status callback and stream) apply one after the other.
      // (SQLite transactions already serialize writers.)
      if (this.dialect === 'postgres') q = q.forUpdate();
      const row = await q.executeTakeFirst();
      if (!row) return undefined;
      const record = JSON.parse(row.record) as CallRecord;
      change(record);
      const { call_sid: _sid, created_at: _created, ...changes } = this.toRow(record);
      await tx.updateTable('calls').set(changes).where('call_sid', '=', callSid).execute();
      return record;
    });
  }

  /**
   * Ends every call the history still shows open: outcome `failed`, detail `process_lost`, open
   * streams closed. For a single process at start, where any such call belonged to a run that died
   * without closing it (SIGKILL, a crash, power loss); with several processes sharing the
   * database a live call of another process would look the same, so it is not used then.
   */
  async closeLeftOpen(nowMs: number): Promise<string[]> {
    const open = await this.db.selectFrom('calls').select('call_sid').where('state', '!=', 'ended').execute();
    const closed: string[] = [];
    for (const { call_sid } of open) {
      const record = await this.update(call_sid, (r) => {
        if (r.state === 'ended') return;
        r.state = 'ended';
        r.endedAt = nowMs;
        r.outcome = { kind: 'failed', detail: 'process_lost' };
        for (const stream of r.streams) {
          if (stream.endedAt !== undefined) continue;
          stream.endedAt = nowMs;
          stream.endReason = 'process_lost';
        }
      });
      if (record?.outcome?.detail === 'process_lost') closed.push(call_sid);
    }
    return closed;
  }

  /**
   * Calls started before `beforeMs` whose recording still exists at Twilio
   * (retention, docs/outbound.md#retention), oldest first.
   */
  async recordingsStartedBefore(beforeMs: number, limit: number): Promise<{ callSid: string; recordingSid: string }[]> {
    const rows = await this.db
      .selectFrom('calls')
      .select(['call_sid', 'recording_sid'])
      .where('recording_sid', 'is not', null)
      .where('recording_status', '!=', 'deleted')
      .where('created_at', '<', beforeMs)
      .orderBy('created_at')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ callSid: r.call_sid, recordingSid: r.recording_sid! }));
  }

  async list(): Promise<CallRecord[]> {
    const rows = await this.db.selectFrom('calls').select('record').orderBy('created_at', 'desc').execute();
    return rows.map((r) => JSON.parse(r.record) as CallRecord);
  }

  private toRow(r: Readonly<CallRecord>): Required<Pick<CallsTable, SavedCallColumn>> {
    return {
      call_sid: r.callSid,
      agent_id: r.agentId,
      slug: r.slug,
      version: r.version,
      direction: r.direction,
      state: r.state,
      from_number: r.from,
      to_number: r.to,
      outcome: r.outcome?.kind ?? null,
      record: JSON.stringify(r),
      created_at: r.createdAt,
      ended_at: r.endedAt ?? null,
      updated_at: this.clock.wallNow(),
      staff_id: r.handledBy?.at(-1) ?? null,
      result: callResultOf(r) ?? null,
      recording_sid: r.recording?.sid ?? null,
      recording_url: r.recording?.url ?? null,
      recording_duration_s: r.recording?.durationSeconds ?? null,
      recording_status: r.recording?.status ?? null,
      recording_deleted_at: r.recording?.deletedAt ?? null,
    };
  }
}

/** The columns `save` writes (every other column is written by its own method and kept). */
const SAVED_CALL_COLUMNS = [
  'call_sid',
  'agent_id',
  'slug',
  'version',
  'direction',
  'state',
  'from_number',
  'to_number',
  'outcome',
  'record',
  'created_at',
  'ended_at',
  'updated_at',
  'staff_id',
  'result',
  'recording_sid',
  'recording_url',
  'recording_duration_s',
  'recording_status',
  'recording_deleted_at',
] as const satisfies readonly (keyof CallsTable)[];
type SavedCallColumn = (typeof SAVED_CALL_COLUMNS)[number];
/** An existing row keeps these; the others take the saved values. */
const KEPT_ON_CONFLICT: ReadonlySet<SavedCallColumn> = new Set(['call_sid', 'created_at']);

/** `insert into calls (…) values (…), … on conflict (call_sid) do update set c = excluded.c, …` for `rows` rows. */
function callsUpsertSql(dialect: Dialect, rows: number): string {
  const placeholder = placeholders(dialect);
  const quoted = SAVED_CALL_COLUMNS.map((c) => `"${c}"`);
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) tuples.push(`(${SAVED_CALL_COLUMNS.map(placeholder).join(', ')})`);
  const updates = SAVED_CALL_COLUMNS.filter((c) => !KEPT_ON_CONFLICT.has(c)).map((c) => `"${c}" = excluded."${c}"`);
  return `insert into "calls" (${quoted.join(', ')}) values ${tuples.join(', ')} on conflict ("call_sid") do update set ${updates.join(', ')}`;
}

/** Rows of one events insert: 5 parameters each, 500 a statement, under SQLite's limit (999 before 3.32). */
const EVENTS_PER_INSERT = 100;
/** Rows of one turn metrics insert: 11 parameters each. */
const TURN_METRICS_PER_INSERT = 50;
const EVENT_COLUMNS = ['id', 'call_sid', 'type', 'at', 'data'] as const satisfies readonly (keyof CallEventsTable)[];
const TURN_METRICS_COLUMNS = [
  'id',
  'call_sid',
  'agent_id',
  'version',
  'at',
  'endpoint_ms',
  'response_ms',
  'llm_first_token_ms',
  'llm_first_sentence_ms',
  'tts_first_byte_ms',
  'overhead_ms',
] as const satisfies readonly (keyof CallTurnMetricsTable)[];
const SPEAKER_COLUMNS = ['call_sid', 'agent_id', 'version'] as const satisfies readonly (keyof CallsTable)[];

/** `?` on SQLite, `$1`, `$2`, … on PostgreSQL, numbered across the statement. */
function placeholders(dialect: Dialect): () => string {
  let n = 0;
  return dialect === 'postgres' ? () => `$${++n}` : () => '?';
}

/** `insert into "table" ("a", "b") values (?, ?), (?, ?)` for `rows` rows: the text Kysely's `insertInto(table).values(rows)` compiles to. */
export function insertSql(dialect: Dialect, table: string, columns: readonly string[], rows: number): string {
  const placeholder = placeholders(dialect);
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) tuples.push(`(${columns.map(placeholder).join(', ')})`);
  return `insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values ${tuples.join(', ')}`;
}

/** `select "a", "b" from "table" where "key" in (?, ?)` for `count` values. */
export function selectInSql(dialect: Dialect, table: string, columns: readonly string[], key: string, count: number): string {
  const placeholder = placeholders(dialect);
  const values = Array.from({ length: count }, placeholder);
  return `select ${columns.map((c) => `"${c}"`).join(', ')} from "${table}" where "${key}" in (${values.join(', ')})`;
}

const CALL_CURSOR = /^(\d+):(.+)$/;

function decodeCallCursor(cursor: string | undefined): { createdAt: number; callSid: string } | undefined {
  const raw = decodeCursor<string>(cursor, 'string');
  if (raw === undefined) return undefined;
  const m = CALL_CURSOR.exec(raw);
  if (!m) throw new AppError('BAD_REQUEST', 'cursor is not valid; pass back a nextCursor from an earlier page');
  return { createdAt: Number(m[1]), callSid: m[2]! };
}
