import { Migrator, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newCallRecord, type CallRecord } from '../../../src/calls/call-record.js';
import type { CallEvent } from '../../../src/calls/events.js';
import { SqlCallAnalytics } from '../../../src/store/analytics-repo.js';
import { SqlCallStore } from '../../../src/store/calls-repo.js';
import { openDb, type Db } from '../../../src/store/db.js';
import { migrateToLatest } from '../../../src/store/migrate.js';
import { migrations } from '../../../src/store/migrations/index.js';
import { BACKENDS } from './backends.js';

/**
 * Invariant: analytics computed by the database agree with the calls stored,
 * on SQLite and PostgreSQL alike: counts per day, agent and version, result
 * classes, durations, transfer and handoff rates, and nearest-rank p50/p95 of
 * the replies' responseMs and overheadMs (computed here in JS from the same
 * turns); the range is [from, to) on the call's start; filters narrow it.
 */
const DAY = 86_400_000;
const D1 = Date.UTC(2026, 2, 2, 10, 0, 0);
const D2 = D1 + DAY;

let n = 0;
interface Made {
  record: CallRecord;
  events: CallEvent[];
}

function call(init: {
  agentId: string;
  version: number;
  at: number;
  durationMs?: number;
  outcome?: { kind: string; detail?: string };
  handledBy?: string[];
  transfer?: boolean;
  replies?: { responseMs: number; overheadMs: number }[];
}): Made {
  const callSid = `CA${String(++n).padStart(32, '0')}`;
  const record: CallRecord = {
    ...newCallRecord({ callSid, accountSid: 'AC1', agentId: init.agentId, slug: `slug-${init.agentId}`, version: init.version, from: '+15550001111', to: '+15550100002', direction: 'inbound', nowMs: init.at }),
  };
  if (init.durationMs !== undefined) {
    record.state = 'ended';
    record.endedAt = init.at + init.durationMs;
    record.outcome = init.outcome ?? { kind: 'completed', detail: 'completed' };
  }
  if (init.handledBy) record.handledBy = init.handledBy;
  const events: CallEvent[] = [];
  let t = init.at;
  // A greeting: no metrics, not counted.
  events.push({ type: 'turn.agent', callSid, at: ++t, text: 'Hello', heardText: 'Hello', outcome: 'played', cached: true });
  for (const r of init.replies ?? []) {
    events.push({ type: 'turn.agent', callSid, at: ++t, text: 'Sure', heardText: 'Sure', outcome: 'played', cached: false, metrics: { ...r, llmFirstTokenMs: 100 } });
  }
  if (init.transfer) events.push({ type: 'transfer.requested', callSid, at: ++t, mode: 'cold', target: { number: '+15550104444' }, nodeId: 'desk' });
  return { record, events };
}

/** Nearest rank, the definition the SQL implements. */
function nearestRank(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
}

const replies = (k: number, base: number) => Array.from({ length: k }, (_, i) => ({ responseMs: base + ((i * 37) % 101) * 7, overheadMs: 20 + ((i * 53) % 41) }));

const CALLS: Made[] = [
  // Agent a, version 1: day 1
  call({ agentId: 'a', version: 1, at: D1, durationMs: 60_000, replies: replies(13, 400) }),
  call({ agentId: 'a', version: 1, at: D1 + 1000, durationMs: 30_000, outcome: { kind: 'completed', detail: 'caller_hangup' }, replies: replies(4, 900) }),
  call({ agentId: 'a', version: 1, at: D1 + 2000, durationMs: 45_000, outcome: { kind: 'transferred', detail: 'completed' }, transfer: true, replies: replies(2, 300) }),
  // Agent a, version 2: day 2
  call({ agentId: 'a', version: 2, at: D2, durationMs: 20_000, replies: replies(7, 250) }),
  call({ agentId: 'a', version: 2, at: D2 + 5, durationMs: 90_000, outcome: { kind: 'completed', detail: 'status:completed' }, handledBy: ['st_1'], transfer: true, replies: replies(1, 500) }),
  call({ agentId: 'a', version: 2, at: D2 + 10, durationMs: 1_000, outcome: { kind: 'media_error', detail: 'closed' } }),
  // Agent b: one in progress on day 2, one unavailable
  call({ agentId: 'b', version: 3, at: D2 + 20, replies: replies(3, 1000) }),
  call({ agentId: 'b', version: 3, at: D2 + 30, durationMs: 0, outcome: { kind: 'unavailable', detail: 'agent_unavailable' } }),
  // Outside the range (the day after), never counted
  call({ agentId: 'a', version: 2, at: D2 + DAY, durationMs: 5_000, replies: replies(5, 5000) }),
];

describe.each(BACKENDS)('call analytics on $name', (backend) => {
  let db: Db;
  let cleanup: () => Promise<void>;
  let analytics: SqlCallAnalytics;
  const range = { fromMs: D1 - 1000, toMs: D2 + DAY - 1 };

  beforeAll(async () => {
    const created = await backend.create();
    cleanup = created.cleanup;
    db = await openDb(created.databaseUrl);
    await migrateToLatest(db);
    const store = new SqlCallStore(db.db);
    for (const c of CALLS) {
      await store.save(c.record);
      await store.appendEvents(c.events);
    }
    analytics = new SqlCallAnalytics(db.db);
  });
  afterAll(async () => {
    await db?.close();
    await cleanup?.();
  });

  const inRange = CALLS.filter((c) => c.record.createdAt >= range.fromMs && c.record.createdAt < range.toMs);
  const metricsOf = (cs: Made[]) =>
    cs.flatMap((c) => c.events.flatMap((e) => (e.type === 'turn.agent' && e.metrics ? [e.metrics as { responseMs: number; overheadMs: number }] : [])));
  const expectLatency = (got: { turns: number; responseMs: unknown; overheadMs: unknown }, cs: Made[]) => {
    const m = metricsOf(cs);
    const r = m.map((x) => x.responseMs);
    const o = m.map((x) => x.overheadMs);
    expect(got).toEqual({
      turns: m.length,
      responseMs: { p50: nearestRank(r, 50), p95: nearestRank(r, 95) },
      overheadMs: { p50: nearestRank(o, 50), p95: nearestRank(o, 95) },
    });
  };

  it('totals: calls, ended, durations, result classes, transfer and handoff rates, latency', async () => {
    const r = await analytics.report(range);
    expect(r.totals.calls).toBe(8);
    expect(r.totals.ended).toBe(7);
    expect(r.totals.durationMs).toEqual({ total: 246_000, average: Math.round(246_000 / 7) });
    expect(r.totals.outcomes).toEqual({ completed: 2, transferred: 2, abandoned: 1, failed: 1, unavailable: 1, other: 0 });
    expect(r.totals.transferRate).toBe(0.25);
    expect(r.totals.handoffRate).toBe(0.125);
    expectLatency(r.totals.latency, inRange);
  });

  it('per UTC day, oldest first', async () => {
    const r = await analytics.report(range);
    expect(r.days.map((d) => [d.day, d.calls])).toEqual([
      ['2026-03-02', 3],
      ['2026-03-03', 5],
    ]);
    expect(r.days[1]!.outcomes).toMatchObject({ completed: 1, transferred: 1, failed: 1, unavailable: 1 });
  });

  it('per agent and per version, side by side, with their own percentiles', async () => {
    const r = await analytics.report(range);
    expect(r.agents.map((a) => [a.agentId, a.slug, a.calls])).toEqual([
      ['a', 'slug-a', 6],
      ['b', 'slug-b', 2],
    ]);
    expect(r.versions.map((v) => [v.agentId, v.version, v.calls, v.ended])).toEqual([
      ['a', 1, 3, 3],
      ['a', 2, 3, 3],
      ['b', 3, 2, 1],
    ]);
    const [v1, v2] = r.versions;
    expect(v1!.outcomes).toMatchObject({ completed: 1, abandoned: 1, transferred: 1 });
    expect(v1!.transferRate).toBe(0.3333);
    expect(v2!.handoffRate).toBe(0.3333);
    expect(v1!.durationMs.average).toBe(45_000);
    const of = (agentId: string, version?: number) => inRange.filter((c) => c.record.agentId === agentId && (version === undefined || c.record.version === version));
    expectLatency(v1!.latency, of('a', 1));
    expectLatency(v2!.latency, of('a', 2));
    expectLatency(r.agents[0]!.latency, of('a'));
    expectLatency(r.agents[1]!.latency, of('b'));
  });

  it('filters by agent and version; the range is [from, to) on the start of the call', async () => {
    const only = await analytics.report({ ...range, agentId: 'a', version: 2 });
    expect(only.versions.map((v) => v.version)).toEqual([2]);
    expect(only.totals.calls).toBe(3);
    const v2 = inRange.filter((c) => c.record.agentId === 'a' && c.record.version === 2);
    expectLatency(only.totals.latency, v2);

    const exact = await analytics.report({ fromMs: D1, toMs: D1 + 1000 });
    expect(exact.totals.calls).toBe(1);
    const none = await analytics.report({ fromMs: D1 - DAY, toMs: D1 });
    expect(none.totals).toMatchObject({ calls: 0, ended: 0, transferRate: null, handoffRate: null, durationMs: { total: 0, average: null } });
    expect(none.totals.latency).toEqual({ turns: 0, responseMs: { p50: null, p95: null }, overheadMs: { p50: null, p95: null } });
    expect(none.days).toEqual([]);
  });

  it('a second save of a record keeps the transfer flag and fills in the result once the call ends', async () => {
    const store = new SqlCallStore(db.db);
    const c = call({ agentId: 'c', version: 1, at: D1 + 50_000, transfer: true, replies: replies(1, 700) });
    await store.save(c.record);
    await store.appendEvents(c.events);
    let r = await analytics.report({ ...range, agentId: 'c' });
    expect(r.totals).toMatchObject({ calls: 1, ended: 0, transferRate: 1 });
    expect(r.totals.outcomes.completed).toBe(0);
    await store.save({ ...c.record, state: 'ended', endedAt: c.record.createdAt + 10_000, outcome: { kind: 'transferred' } });
    r = await analytics.report({ ...range, agentId: 'c' });
    expect(r.totals).toMatchObject({ calls: 1, ended: 1, transferRate: 1, durationMs: { total: 10_000 } });
    expect(r.totals.outcomes.transferred).toBe(1);
  });
});

describe.each(BACKENDS)('migration 0005 on $name', (backend) => {
  it('fills in results, transfer flags and reply metrics from the history stored before it', async () => {
    const created = await backend.create();
    const db = await openDb(created.databaseUrl);
    try {
      const migrator = new Migrator({
        db: db.db,
        provider: { getMigrations: async () => migrations },
        ...(db.dialect === 'postgres' ? { migrationTableSchema: db.schema ?? 'public' } : {}),
      });
      expect((await migrator.migrateTo('0004_agent_tests')).error).toBeUndefined();
      // History as the code before 0005 wrote it: records and events, no analytics columns.
      const old = [
        call({ agentId: 'a', version: 1, at: D1, durationMs: 10_000, replies: replies(5, 400) }),
        call({ agentId: 'a', version: 1, at: D1 + 1, durationMs: 20_000, outcome: { kind: 'transferred' }, transfer: true, replies: replies(2, 900) }),
        call({ agentId: 'a', version: 2, at: D1 + 2 }),
      ];
      const raw = db.db as unknown as Kysely<Record<string, Record<string, unknown>>>;
      let seq = 0;
      for (const { record: r, events } of old) {
        await raw
          .insertInto('calls')
          .values({
            call_sid: r.callSid, agent_id: r.agentId, slug: r.slug, version: r.version, direction: r.direction, state: r.state,
            from_number: r.from, to_number: r.to, outcome: r.outcome?.kind ?? null, record: JSON.stringify(r),
            created_at: r.createdAt, ended_at: r.endedAt ?? null, updated_at: r.createdAt, staff_id: null,
          })
          .execute();
        for (const e of events) {
          await raw.insertInto('call_events').values({ id: `ce_${String(++seq).padStart(6, '0')}`, call_sid: e.callSid, type: e.type, at: e.at, data: JSON.stringify(e) }).execute();
        }
      }
      await migrateToLatest(db);
      const r = await new SqlCallAnalytics(db.db).report({ fromMs: D1 - 1, toMs: D1 + DAY });
      expect(r.totals).toMatchObject({ calls: 3, ended: 2, transferRate: 0.3333, outcomes: { completed: 1, transferred: 1 } });
      const turns = old.flatMap((c) => c.events.flatMap((e) => (e.type === 'turn.agent' && e.metrics ? [e.metrics.responseMs!] : [])));
      expect(r.totals.latency.turns).toBe(7);
      expect(r.totals.latency.responseMs).toEqual({ p50: nearestRank(turns, 50), p95: nearestRank(turns, 95) });
    } finally {
      await db.close();
      await created.cleanup();
    }
  });
});
