import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { newCallRecord, type CallRecord } from '../../../src/calls/call-record.js';
import { Calls } from '../../../src/calls/calls.js';
import { MemoryCallEventBus, type CallEvent } from '../../../src/calls/events.js';
import { CallRecorder } from '../../../src/calls/recorder.js';
import { MemoryCallRepository, type CallRepository } from '../../../src/calls/repository.js';
import { SqlCallStore } from '../../../src/store/calls-repo.js';
import { openDb, type Db } from '../../../src/store/db.js';
import { migrateToLatest } from '../../../src/store/migrate.js';
import { BACKENDS } from './backends.js';

/**
 * Call history on SQL, the same code on SQLite and PostgreSQL: records round-trip
 * whole (turns with metrics, streams, next step, outcome), saving is an upsert,
 * events keep their order, lists are newest first with filters and a cursor,
 * and the ledger's CallRepository port works on it too. Then the write-through
 * recorder: batched writes, nothing lost when the database fails for a while.
 */

const START_MS = Date.UTC(2026, 0, 5, 15, 0, 0);

/** `takenAt`: the next ids made are counted, and that one is 'taken' (a test's refused row). */
const ids = vi.hoisted(() => ({ takenAt: undefined as number | undefined, made: 0 }));
vi.mock('../../../src/store/ids.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/store/ids.js')>();
  return {
    ...real,
    newId: (prefix: string, nowMs?: number) => {
      if (ids.takenAt === undefined) return real.newId(prefix, nowMs);
      return ++ids.made === ids.takenAt ? 'taken' : real.newId(prefix, nowMs);
    },
  };
});

function record(n: number, init: Partial<CallRecord> = {}): CallRecord {
  return {
    ...newCallRecord({
      callSid: `CA${String(n).padStart(32, '0')}`,
      accountSid: 'AC1',
      agentId: n % 2 === 0 ? 'ag_even' : 'ag_odd',
      slug: 'pizza',
      version: 1,
      from: '+15550001111',
      to: '+15550100002',
      direction: 'inbound',
      nowMs: START_MS + Math.floor(n / 2) * 1000, // pairs share a creation time: the cursor must break ties
    }),
    ...init,
  };
}

describe.each(BACKENDS)('call history on $name', (backend) => {
  let db: Db;
  let cleanup: () => Promise<void>;
  let store: SqlCallStore;

  beforeEach(async () => {
    const created = await backend.create();
    cleanup = created.cleanup;
    db = await openDb(created.databaseUrl);
    await migrateToLatest(db);
    store = new SqlCallStore(db.db, new ManualClock());
  });
  afterEach(async () => {
    await db.close();
    await cleanup();
  });

  it('round-trips a whole record and replaces it on save', async () => {
    const r = record(1);
    r.state = 'ended';
    r.streams.push({ streamSid: 'MZ1', startedAt: START_MS + 100, endedAt: START_MS + 9000, endReason: 'stop' });
    r.nextStep = { kind: 'dial', number: '+15550109999', timeoutSeconds: 20 };
    r.outcome = { kind: 'completed', detail: 'caller_hangup' };
    r.turns.push(
      { role: 'agent', text: 'Hello.', at: START_MS + 200, nodeId: 'welcome' },
      { role: 'caller', text: '2', at: START_MS + 900, via: 'dtmf', metrics: { endpointMs: 0, responseMs: 312.5 } },
    );
    r.snapshot = { node: 'menu', variables: { choice: '007' } };
    r.endedAt = START_MS + 9000;
    await store.save(record(1));
    await store.save(r);
    expect(await store.get(r.callSid)).toEqual(r);
    expect(await store.get('CAnope')).toBeUndefined();
  });

  it('saves several records in one write: new ones inserted, stored ones replaced, columns of their own kept', async () => {
    const a = record(1);
    const b = record(2);
    await store.saveAll([a]);
    await store.savePostCall(a.callSid, { summary: 'kept' } as never);
    await store.appendEvents([{ type: 'transfer.requested', callSid: a.callSid, at: START_MS, mode: 'cold', target: { number: '+15550109999' }, nodeId: 'x' }]);
    a.state = 'ended';
    a.endedAt = START_MS + 5000;
    a.outcome = { kind: 'completed' };
    a.recording = { sid: 'RE1', status: 'completed', url: 'https://example.com/RE1', durationSeconds: 12, startedAt: START_MS };
    b.turns.push({ role: 'caller', text: 'hello', at: START_MS + 10, via: 'speech' });
    await store.saveAll([a, b]);
    await store.saveAll([]);
    expect(await store.get(a.callSid)).toEqual(a);
    expect(await store.get(b.callSid)).toEqual(b);
    expect(await store.getPostCall(a.callSid)).toEqual({ summary: 'kept' });
    const row = await db.db.selectFrom('calls').selectAll().where('call_sid', '=', a.callSid).executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      state: 'ended',
      outcome: 'completed',
      ended_at: START_MS + 5000,
      created_at: START_MS,
      transfer_requested: 1,
      recording_sid: 'RE1',
      recording_status: 'completed',
      recording_duration_s: 12,
    });
    expect((await store.page({ limit: 10 })).items.map((r) => r.callSid).sort()).toEqual([a.callSid, b.callSid]);
  });

  it('keeps events in the order they were appended, per call', async () => {
    const sid = record(1).callSid;
    const events: CallEvent[] = [
      { type: 'call.started', callSid: sid, at: START_MS, agentId: 'ag', slug: 'pizza', version: 1, direction: 'inbound' },
      { type: 'node.entered', callSid: sid, at: START_MS, nodeId: 'welcome' },
      { type: 'dtmf', callSid: 'CAother', at: START_MS, digit: '1' },
      { type: 'call.ended', callSid: sid, at: START_MS + 5, reason: 'stop', outcome: 'completed' },
    ];
    await store.appendEvents(events.slice(0, 2));
    await store.appendEvents(events.slice(2));
    await store.appendEvents([]);
    expect(await store.events(sid)).toEqual([events[0], events[1], events[3]]);
    // A batch larger than one statement's parameters goes in whole.
    const many = Array.from({ length: 250 }, (_, i): CallEvent => ({ type: 'dtmf', callSid: 'CAmany', at: START_MS + i, digit: String(i % 10) }));
    await store.appendEvents(many);
    expect((await store.events('CAmany')).map((e) => (e as { digit: string }).digit)).toEqual(many.map((e) => (e as { digit: string }).digit));
  });

  it('stores a batch of several statements all or nothing: events and per-turn metrics rows of every chunk, or none', async () => {
    const a = record(1);
    const b = record(2, { agentId: 'ag_b', version: 4 });
    await store.saveAll([a, b]);
    // 230 events (three events inserts), 120 of them measured replies (three metrics inserts), spread over two calls.
    const batch = Array.from({ length: 230 }, (_, i): CallEvent => {
      const callSid = i % 2 === 0 ? a.callSid : b.callSid;
      if (i % 23 === 0) return { type: 'dtmf', callSid, at: START_MS + i, digit: String(i % 10) };
      return {
        type: 'turn.agent',
        callSid,
        at: START_MS + i,
        text: `reply ${i}`,
        heardText: `reply ${i}`,
        outcome: 'played',
        cached: false,
        ...(i % 23 <= 12 ? { metrics: { responseMs: 500 + i, endpointMs: 300.4, overheadMs: i % 7 === 0 ? null : 2.6 } } : {}),
      } as CallEvent;
    });
    const measured = batch.filter((e) => e.type === 'turn.agent' && 'metrics' in e);
    expect(measured.length).toBeGreaterThan(100);

    // A row refused in the last chunk of events leaves nothing stored from the earlier ones.
    const refused = [...batch.slice(0, 220), { ...batch[220]!, callSid: null as unknown as string }, ...batch.slice(221)];
    await expect(store.appendEvents(refused)).rejects.toThrow();
    expect(await db.db.selectFrom('call_events').select('id').execute()).toEqual([]);
    expect(await db.db.selectFrom('call_turn_metrics').select('id').execute()).toEqual([]);

    await store.appendEvents(batch);
    expect([...(await store.events(a.callSid)), ...(await store.events(b.callSid))]).toEqual([
      ...batch.filter((e) => e.callSid === a.callSid),
      ...batch.filter((e) => e.callSid === b.callSid),
    ]);
    const rows = await db.db.selectFrom('call_turn_metrics').selectAll().orderBy('at').execute();
    const events = await db.db.selectFrom('call_events').select(['id', 'at']).execute();
    const idAt = new Map(events.map((e) => [e.id, Number(e.at)]));
    expect(rows).toHaveLength(measured.length);
    expect(rows.map((r) => ({ ...r, id: idAt.get(r.id), at: Number(r.at) }))).toEqual(
      measured.map((e) => {
        const i = e.at - START_MS;
        const who = e.callSid === a.callSid ? { agent_id: 'ag_odd', version: 1 } : { agent_id: 'ag_b', version: 4 };
        return {
          id: e.at,
          call_sid: e.callSid,
          ...who,
          at: e.at,
          endpoint_ms: 300,
          response_ms: 500 + i,
          llm_first_token_ms: null,
          llm_first_sentence_ms: null,
          tts_first_byte_ms: null,
          overhead_ms: i % 7 === 0 ? null : 3,
        };
      }),
    );

    // A metrics row refused in the last metrics insert (its event id is taken) rolls back the events too.
    const again = batch.map((e) => ({ ...e, at: e.at + 10_000 }));
    const before = events.length;
    await db.db
      .insertInto('call_turn_metrics')
      .values({ id: 'taken', call_sid: a.callSid, agent_id: 'x', version: 1, at: 0, endpoint_ms: null, response_ms: 1, llm_first_token_ms: null, llm_first_sentence_ms: null, tts_first_byte_ms: null, overhead_ms: null })
      .execute();
    ids.made = 0;
    ids.takenAt = 220; // the last measured reply's event (and metrics row) id
    try {
      await expect(store.appendEvents(again)).rejects.toThrow();
    } finally {
      ids.takenAt = undefined;
    }
    expect(await db.db.selectFrom('call_events').select('id').execute()).toHaveLength(before);
    expect(await db.db.selectFrom('call_turn_metrics').select('id').execute()).toHaveLength(measured.length + 1);
  });

  it('lists newest first, pages with a cursor across equal times, and filters by agent and state', async () => {
    for (let n = 1; n <= 7; n++) await store.save(record(n, n === 3 ? { state: 'ended' } : {}));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.page({ limit: 3, cursor });
      seen.push(...page.items.map((r) => r.callSid));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const expected = Array.from({ length: 7 }, (_, i) => record(i + 1))
      .sort((a, b) => b.createdAt - a.createdAt || (a.callSid < b.callSid ? 1 : -1))
      .map((r) => r.callSid);
    expect(seen).toEqual(expected);

    const even = await store.page({ limit: 10, agentId: 'ag_even' });
    expect(even.items.map((r) => r.agentId)).toEqual(['ag_even', 'ag_even', 'ag_even']);
    expect(even.nextCursor).toBeNull();
    expect((await store.page({ limit: 10, state: 'ended' })).items.map((r) => r.callSid)).toEqual([record(3).callSid]);
    expect((await store.page({ limit: 10, agentId: 'ag_odd', state: 'connecting' })).items).toHaveLength(3);
  });

  it('refuses a cursor it did not make', async () => {
    await expect(store.page({ limit: 3, cursor: 'garbage' })).rejects.toMatchObject({ code: 'BAD_REQUEST', status: 400 });
    const wrongShape = Buffer.from(JSON.stringify('no-colon')).toString('base64url');
    await expect(store.page({ limit: 3, cursor: wrongShape })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('the recorder writes the live ledger through in batches, and loses nothing while the database fails', async () => {
    const clock = new ManualClock();
    const bus = new MemoryCallEventBus();
    const live = new MemoryCallRepository();
    const calls = new Calls(live, bus, clock, silentLogger);
    let failing = false;
    let saves = 0;
    let appends = 0;
    const flaky = {
      save: async (r: CallRecord) => {
        if (failing) throw new Error('database unreachable');
        saves++;
        return store.save(r);
      },
      saveAll: async (rs: readonly CallRecord[]) => {
        if (failing) throw new Error('database unreachable');
        saves += rs.length;
        return store.saveAll(rs);
      },
      appendEvents: async (e: readonly CallEvent[]) => {
        if (failing) throw new Error('database unreachable');
        appends++;
        return store.appendEvents(e);
      },
      get: (s: string) => store.get(s),
      events: (s: string) => store.events(s),
      page: store.page.bind(store),
    };
    const recorder = new CallRecorder({ live, bus, history: flaky, clock, logger: silentLogger, flushDelayMs: 250 });
    const init = { callSid: 'CAw', accountSid: 'AC1', agentId: 'ag', slug: 'pizza', version: 1, from: '+15550001111', to: '+15550100002', direction: 'inbound' as const };
    await calls.open(init);
    await calls.streamStarted('CAw', 'MZ1');
    calls.emit({ type: 'node.entered', callSid: 'CAw', nodeId: 'welcome' });
    // Nothing written until the batch window closes.
    expect(await store.get('CAw')).toBeUndefined();
    await clock.advance(250);
    await expect.poll(() => store.events('CAw').then((e) => e.length)).toBe(4);
    expect(saves).toBe(1);
    expect(appends).toBe(1);
    expect((await store.get('CAw'))?.state).toBe('ai');

    failing = true;
    await calls.addTurn('CAw', { role: 'caller', text: '1', at: clock.wallNow(), via: 'dtmf' });
    calls.emit({ type: 'dtmf', callSid: 'CAw', digit: '1' });
    await recorder.flush();
    expect(recorder.pending).toBe(1);
    await calls.end('CAw', 'stop');
    failing = false;
    await recorder.flush();
    expect(recorder.pending).toBe(0);
    const stored = await store.get('CAw');
    expect(stored).toMatchObject({ state: 'ended', turns: [{ text: '1' }] });
    expect((await store.events('CAw')).map((e) => e.type)).toEqual([
      'call.started',
      'call.state',
      'stream.started',
      'node.entered',
      'dtmf',
      'call.state',
      'call.ended',
    ]);
    await recorder.close();
    // After close, events are no longer recorded.
    calls.emit({ type: 'dtmf', callSid: 'CAw', digit: '9' });
    expect(recorder.pending).toBe(0);
  });
});

/**
 * The ledger's CallRepository port, the same cases on every implementation:
 * the in-memory live ledger and SQL history on SQLite and PostgreSQL.
 */
const REPOSITORIES: { name: string; open(): Promise<{ repo: CallRepository; close(): Promise<void> }> }[] = [
  { name: 'memory', open: async () => ({ repo: new MemoryCallRepository(), close: async () => undefined }) },
  ...BACKENDS.map((backend) => ({
    name: backend.name,
    async open() {
      const created = await backend.create();
      const db = await openDb(created.databaseUrl);
      await migrateToLatest(db);
      return {
        repo: new SqlCallStore(db.db, new ManualClock()),
        close: async () => {
          await db.close();
          await created.cleanup();
        },
      };
    },
  })),
];

describe.each(REPOSITORIES)('CallRepository contract on $name', (impl) => {
  let repo: CallRepository;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ repo, close } = await impl.open());
  });
  afterEach(async () => close());

  it('creates once per CallSid and returns whichever record is stored', async () => {
    const first = await repo.createIfAbsent(record(1));
    expect(first.created).toBe(true);
    const again = await repo.createIfAbsent({ ...record(1), slug: 'other' });
    expect(again).toMatchObject({ created: false, record: { slug: 'pizza' } });
    expect(await repo.get(record(1).callSid)).toMatchObject({ callSid: record(1).callSid, slug: 'pizza', state: 'connecting' });
    expect(await repo.get('CAnope')).toBeUndefined();
  });

  it('applies updates to the stored record, and lists what it holds', async () => {
    await repo.createIfAbsent(record(1));
    await repo.createIfAbsent(record(2));
    const updated = await repo.update(record(1).callSid, (r) => {
      r.state = 'ai';
    });
    expect(updated?.state).toBe('ai');
    expect((await repo.get(record(1).callSid))?.state).toBe('ai');
    // A read is a copy: changing it changes nothing stored.
    const copy = await repo.get(record(2).callSid);
    copy!.state = 'ended';
    expect((await repo.get(record(2).callSid))?.state).toBe('connecting');
    expect((await repo.list()).map((r) => r.callSid).sort()).toEqual([record(1).callSid, record(2).callSid].sort());
  });

  it('serves as the ledger repository: create once, update in place, ledger transitions and events', async () => {
    const clock = new ManualClock();
    const bus = new MemoryCallEventBus();
    const events: CallEvent[] = [];
    bus.subscribe((e) => events.push(e));
    const calls = new Calls(repo, bus, clock, silentLogger);
    const init = { callSid: 'CAledger', accountSid: 'AC1', agentId: 'ag', slug: 'pizza', version: 2, from: '+15550001111', to: '+15550100002', direction: 'inbound' as const };
    expect((await calls.open(init)).created).toBe(true);
    expect((await calls.open(init)).created).toBe(false);
    await calls.streamStarted('CAledger', 'MZ1');
    await calls.addTurn('CAledger', { role: 'caller', text: 'hi', at: clock.wallNow(), via: 'speech', metrics: { endpointMs: 120 } });
    // Concurrent updates of one call both land.
    await Promise.all([calls.bumpMetrics('CAledger', { framesIn: 3 }), calls.bumpMetrics('CAledger', { framesIn: 4 })]);
    expect(await calls.end('CAledger', 'stop')).toBe(true);
    expect(await calls.end('CAledger', 'status')).toBe(false);
    const stored = await repo.get('CAledger');
    expect(stored).toMatchObject({ state: 'ended', version: 2, metrics: { framesIn: 7 }, outcome: { kind: 'completed' } });
    expect(stored?.turns[0]?.metrics).toEqual({ endpointMs: 120 });
    expect(await repo.update('CAnope', () => {})).toBeUndefined();
    expect(events.filter((e) => e.type === 'call.ended')).toHaveLength(1);
  });

});
