import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../../src/store/db.js';

/** The embedded database's settings (docs/architecture.md#storage). */
describe('SQLite as opened by the server', () => {
  let dir: string | undefined;
  let db: Db | undefined;
  afterEach(async () => {
    await db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('uses WAL with synchronous NORMAL, so a commit does not block the event loop on fsync', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sqlite-open-'));
    db = await openDb(`sqlite:${join(dir, 'x.db')}`);
    const journal = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(db.db);
    const sync = await sql<{ synchronous: number }>`pragma synchronous`.execute(db.db);
    const fk = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(db.db);
    expect(journal.rows[0]?.journal_mode).toBe('wal');
    expect(sync.rows[0]?.synchronous).toBe(1); // 1 = NORMAL, 2 = FULL (SQLite's default)
    expect(fk.rows[0]?.foreign_keys).toBe(1);
  });
});
