import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dropPostgresSchema, openDb, sql, type Db } from '../../../src/store/db.js';
import { migrations } from '../../../src/store/migrations/index.js';
import { TEST_POSTGRES_URL, validFlow } from '../../contract/store/backends.js';
import { startServerProcess, type ServerProcess } from '../../support/server-process.js';

/**
 * Invariant (docs/architecture.md#storage): real server processes started at the same moment
 * on one empty database (a SQLite file on this machine, or a PostgreSQL schema) all start; the
 * start-up work is done once (one process migrates and imports, the others wait for it and
 * find it done); the database holds the migrations once and one agent and one version per
 * flow file; no process logs an error, or a warning other than about what the test leaves
 * unconfigured.
 */

const PROCESSES = 3;
const ADMIN_KEY = 'concurrent-start-admin-key-0123456789abcdefXYZ';
/** Warnings about what this test leaves unconfigured (no voice provider, no built console), not about start-up. */
const UNCONFIGURED = new Set(['static phrases not cached at start-up', 'console not built: /console answers 503 until `npm run build:console`']);

let dir: string;
let flowsDir: string;
const servers: ServerProcess[] = [];
const schemas: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'concurrent-start-'));
  flowsDir = join(dir, 'flows');
  await mkdir(flowsDir);
  await writeFile(join(flowsDir, 'clinic.json'), JSON.stringify(validFlow('Clinic')));
  await writeFile(join(flowsDir, 'pizza.json'), JSON.stringify(validFlow('Pizza', 'Ciao')));
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.kill()));
});

afterAll(async () => {
  for (const schema of schemas) await dropPostgresSchema(TEST_POSTGRES_URL, schema);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function count(db: Db, table: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db.db);
  return Number(rows[0]!.n);
}

const databases: Record<string, () => string> = {
  sqlite: () => `sqlite:${join(dir, `runtime-${randomBytes(4).toString('hex')}.db`)}`,
  postgres: () => {
    const schema = `test_start_${process.pid}_${randomBytes(4).toString('hex')}`;
    schemas.push(schema);
    const url = new URL(TEST_POSTGRES_URL);
    url.searchParams.set('schema', schema);
    return url.toString();
  },
};

describe.each(Object.keys(databases))('server processes starting together on one %s database', (name) => {
  it(`${PROCESSES} processes all start, and the migrations and the flows import happen once`, async () => {
    const databaseUrl = databases[name]!();
    const env = { DATABASE_URL: databaseUrl, FLOWS_DIR: flowsDir, ADMIN_API_KEY: ADMIN_KEY, TWILIO_AUTH_TOKEN: 'concurrent-start-twilio-token', WORKERS: 'off', LOOP_LAG_LIMIT_MS: '0' };
    const started = performance.now();
    const results = await Promise.allSettled(Array.from({ length: PROCESSES }, () => startServerProcess(env)));
    for (const r of results) if (r.status === 'fulfilled') servers.push(r.value);
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    const logged = (msg: string) => servers.filter((s) => s.records.some((r) => r.msg === msg)).length;
    const waited = logged('another process is starting on this database; waiting for it to finish');
    console.info(`${PROCESSES} processes on ${name} listening after ${(performance.now() - started).toFixed(0)} ms; ${waited} waited for another's start-up`);
    expect(logged('database migrated')).toBe(1);
    expect(logged('imported flows from disk')).toBe(1);
    const loud = servers.flatMap((s) => s.records.filter((r) => Number(r.level) >= 40 && !UNCONFIGURED.has(String(r.msg))));
    expect(loud).toEqual([]);
    for (const s of servers) expect((await fetch(`${s.url}/ready`)).status).toBe(200);

    const db = await openDb(databaseUrl);
    try {
      const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db.db);
      expect(rows.map((r) => r.name)).toEqual(Object.keys(migrations).sort());
      expect(await count(db, 'agents')).toBe(2);
      expect(await count(db, 'agent_versions')).toBe(2);
      expect(await count(db, 'api_keys')).toBe(1);
    } finally {
      await db.close();
    }
  }, 60_000);
});
