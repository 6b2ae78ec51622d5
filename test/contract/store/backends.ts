import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { dropPostgresSchema } from '../../../src/store/db.js';

/**
 * The backends the store contract suite runs against, each giving a fresh
 * DATABASE_URL and a cleanup: a temp SQLite file, and a PostgreSQL schema of the
 * test's own that is dropped afterwards.
 */
export interface Backend {
  name: 'sqlite' | 'postgres';
  /** A fresh, empty database; `cleanup` removes it. */
  create(): Promise<{ databaseUrl: string; cleanup: () => Promise<void> }>;
}

export const TEST_POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const sqliteBackend: Backend = {
  name: 'sqlite',
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'store-contract-'));
    return {
      databaseUrl: `sqlite:${join(dir, 'nested', 'runtime.db')}`,
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

export const postgresBackend: Backend = {
  name: 'postgres',
  async create() {
    const schema = `test_store_${process.pid}_${randomBytes(4).toString('hex')}`;
    const url = new URL(TEST_POSTGRES_URL);
    url.searchParams.set('schema', schema);
    return { databaseUrl: url.toString(), cleanup: () => dropPostgresSchema(TEST_POSTGRES_URL, schema) };
  },
};

export const BACKENDS: Backend[] = [sqliteBackend, postgresBackend];

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A flow that validates: say hello, then hang up. */
export function validFlow(name = 'Clinic', text = 'Hello'): Record<string, unknown> {
  return {
    version: 1,
    name,
    start: 'hello',
    nodes: [
      { id: 'hello', type: 'say', text, next: 'bye' },
      { id: 'bye', type: 'end', text: 'Goodbye' },
    ],
  };
}

/** A flow with an error: its start names no node. */
export function invalidFlow(name = 'Broken'): Record<string, unknown> {
  return { ...validFlow(name), start: 'nowhere' };
}
