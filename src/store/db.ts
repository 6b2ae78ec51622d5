import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresAdapter, SqliteDialect, sql } from 'kysely';
import type pgModule from 'pg';
import { onDemand } from '../core/on-demand.js';
import { SchemaScopedPostgresDialect } from './pg-introspector.js';
import { noStartupLock, postgresStartupLock, sqliteStartupLock, type StartupLock } from './startup-lock.js';
import type { DatabaseSchema } from './tables.js';

/**
 * Opens the SQL store named by DATABASE_URL (docs/architecture.md#storage): `sqlite:<path>` (relative
 * paths resolve from the working directory) or `postgres://…`. Repositories are
 * the same Kysely code on both.
 */
export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  db: Kysely<DatabaseSchema>;
  dialect: Dialect;
  /** PostgreSQL schema the tables live in (search_path), when not the default. */
  schema?: string;
  /** Orders start-up work (migrations, key bootstrap, flows import) across processes on this database. */
  startupLock: StartupLock;
  close(): Promise<void>;
}

export interface OpenDbOptions {
  /** PostgreSQL only: use (and create) this schema through search_path; tests use their own. */
  schema?: string;
}

/** Writers on another connection (another process) wait this long for SQLite's lock. */
const SQLITE_BUSY_TIMEOUT_MS = 5_000;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The PostgreSQL driver is loaded only for a postgres:// DATABASE_URL (docs/architecture.md#memory). */
const loadPg = onDemand<typeof pgModule>('pg');

// node-pg returns int8 (our epoch-ms timestamps and counts) as strings by default;
// every value we store fits a double exactly, so parse it per pool, not globally.
const PG_INT8_OID = 20;
const pgTypes = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === PG_INT8_OID && format !== 'binary'
      ? (v: string) => Number(v)
      : loadPg().types.getTypeParser(oid, format as 'text')) as typeof pgModule.types.getTypeParser,
};

export async function openDb(databaseUrl: string, options: OpenDbOptions = {}): Promise<Db> {
  if (databaseUrl.startsWith('sqlite:')) return openSqlite(databaseUrl.slice('sqlite:'.length));
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return openPostgres(databaseUrl, options.schema);
  throw new Error(`DATABASE_URL must be sqlite:<path> or postgres://…`);
}

function openSqlite(rawPath: string): Db {
  const path = rawPath.replace(/^\/\/(?=\/)/, ''); // accept sqlite:///abs/path as well
  if (path === '' ) throw new Error('DATABASE_URL sqlite: needs a file path');
  const inMemory = path === ':memory:';
  const file = inMemory ? path : resolve(process.cwd(), path);
  if (!inMemory) mkdirSync(dirname(file), { recursive: true });
  const database = new Database(file);
  database.pragma('journal_mode = WAL');
  // WAL's own pairing: a commit no longer waits for fsync (3.8 ms median, 11 ms p95 on the bench
  // machine, the event loop blocked all the while, several times a second for the call history).
  // A process crash loses nothing; a power loss can roll back the last commits, never corrupt
  // (docs/architecture.md#storage). PostgreSQL is the choice for power-loss durability.
  database.pragma('synchronous = NORMAL');
  database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  database.pragma('foreign_keys = ON');
  const db = new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database: reusingStatements(database) }) });
  return { db, dialect: 'sqlite', startupLock: inMemory ? noStartupLock : sqliteStartupLock(file), close: () => db.destroy() };
}

/**
 * Statements kept prepared, by SQL text. Kysely's SQLite driver prepares every query it runs,
 * and SQLite compiles it again each time: the call history's writer runs the same few statements
 * several times a second per live call (bench/README.md#call-history-writer). Multi-row inserts
 * and `in (…)` lists give one text per row count, so the cache is bounded, least recently used
 * first out. One connection runs one query at a time (Kysely's connection mutex), so a cached
 * statement is never in use twice; SQLite prepares a statement again by itself after a schema change.
 */
export const SQLITE_STATEMENT_CACHE_SIZE = 200;

function reusingStatements(database: Database.Database): { close(): void; prepare(sql: string): Database.Statement } {
  const statements = new Map<string, Database.Statement>();
  return {
    close: () => database.close(),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (statement) {
        statements.delete(sql);
      } else {
        statement = database.prepare(sql);
        if (statements.size >= SQLITE_STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}

async function openPostgres(url: string, schemaOption?: string): Promise<Db> {
  const pg = loadPg();
  const parsed = new URL(url);
  const schema = schemaOption ?? parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new Error(`bad PostgreSQL schema name "${schema}"`);
  }
  if (schema !== undefined) {
    // The schema must exist before connections use it in their search_path.
    const admin = new pg.Client({ connectionString: parsed.toString() });
    await admin.connect();
    try {
      await admin.query(`create schema if not exists "${schema}"`);
    } catch (err) {
      // Two processes creating it at the same moment: "if not exists" does not stop the loser's
      // insert into the catalogue from failing; the schema exists, which is all we wanted.
      if (!isUniqueViolation(err)) throw err;
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: parsed.toString(),
    types: pgTypes,
    ...(schema !== undefined ? { options: `-c search_path="${schema}"` } : {}),
  });
  // Introspection (the migrator's "do my tables exist?") reads only our schema: see pg-introspector.ts.
  const db = new Kysely<DatabaseSchema>({ dialect: new SchemaScopedPostgresDialect({ pool }, schema ?? 'public') });
  return {
    db,
    dialect: 'postgres',
    ...(schema !== undefined ? { schema } : {}),
    startupLock: postgresStartupLock(pool),
    close: () => db.destroy(),
  };
}

/** Which dialect a Kysely instance speaks (migrations pick column types with it). */
export function dialectOf(db: Kysely<unknown>): Dialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/** Drops a PostgreSQL schema and everything in it (tests clean up after themselves). */
export async function dropPostgresSchema(url: string, schema: string): Promise<void> {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`bad PostgreSQL schema name "${schema}"`);
  const client = new (loadPg().Client)({ connectionString: url });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

/** True when the error is a unique-constraint violation on either dialect. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export { sql };
