import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import { describe, expect, it } from 'vitest';
import { insertSql, selectInSql } from '../../../src/store/calls-repo.js';
import type { Dialect } from '../../../src/store/db.js';
import type { DatabaseSchema } from '../../../src/store/tables.js';

/**
 * The call history writes its events and per-turn metrics with SQL text made once per row count
 * (src/store/calls-repo.ts): the same text Kysely's builder compiles, on both dialects, with
 * PostgreSQL's placeholders numbered across every row.
 */
function builder(dialect: Dialect): Kysely<DatabaseSchema> {
  return new Kysely<DatabaseSchema>({
    dialect:
      dialect === 'postgres'
        ? { createAdapter: () => new PostgresAdapter(), createDriver: () => new DummyDriver(), createIntrospector: (db) => new PostgresIntrospector(db), createQueryCompiler: () => new PostgresQueryCompiler() }
        : { createAdapter: () => new SqliteAdapter(), createDriver: () => new DummyDriver(), createIntrospector: (db) => new SqliteIntrospector(db), createQueryCompiler: () => new SqliteQueryCompiler() },
  });
}

describe.each(['sqlite', 'postgres'] as const)('SQL text on %s', (dialect) => {
  const db = builder(dialect);

  it.each([1, 2, 100])('an insert of %i rows is the text the builder compiles', (rows) => {
    const values = Array.from({ length: rows }, (_, i) => ({ id: `ce_${i}`, call_sid: 'CA1', type: 'dtmf', at: i, data: '{}' }));
    const compiled = db.insertInto('call_events').values(values).compile();
    expect(insertSql(dialect, 'call_events', ['id', 'call_sid', 'type', 'at', 'data'], rows)).toBe(compiled.sql);
    expect(compiled.parameters).toHaveLength(rows * 5);
  });

  it.each([1, 3])('a select of %i values is the text the builder compiles', (count) => {
    const sids = Array.from({ length: count }, (_, i) => `CA${i}`);
    const compiled = db.selectFrom('calls').select(['call_sid', 'agent_id', 'version']).where('call_sid', 'in', sids).compile();
    expect(selectInSql(dialect, 'calls', ['call_sid', 'agent_id', 'version'], 'call_sid', count)).toBe(compiled.sql);
  });

  it('numbers placeholders across the rows on PostgreSQL only', () => {
    const text = insertSql(dialect, 'call_turn_metrics', ['id', 'at'], 3);
    expect(text).toBe(
      dialect === 'postgres'
        ? 'insert into "call_turn_metrics" ("id", "at") values ($1, $2), ($3, $4), ($5, $6)'
        : 'insert into "call_turn_metrics" ("id", "at") values (?, ?), (?, ?), (?, ?)',
    );
  });
});
