import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { newCallRecord } from '../../src/calls/call-record.js';
import { buildTestApp } from '../support/app.js';
import { CALLER } from './harness.js';
import { startHoldLine, type HoldLine } from './hold-line.js';

/**
 * Infrastructure faults. The SQL history failing mid-call: the call goes on
 * (its live state is in memory), its events wait in a bounded in-memory
 * backlog, `/ready` says `degraded` with the backlog, and everything is written
 * once the database takes writes again. A run killed with live calls (SIGKILL):
 * the next start closes what it left open as `failed` / `process_lost`.
 */
let line: HoldLine | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await line?.close();
  line = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const NUMBER = '+15550100009';

describe('SQL unavailable', () => {
  it('the history refusing writes mid-call: the call goes on, events are buffered, /ready reads degraded, and all is written on recovery', async () => {
    line = await startHoldLine(NUMBER);
    const { h, atPrompt } = line;
    const db = h.container.persistence.db.db;
    const recorder = h.container.callRecorder;
    const call = await h.sim.placeCall({ from: CALLER, to: NUMBER });
    await h.until(() => atPrompt(call.callSid), { what: 'the prompt' });
    await recorder.flush();

    // The database stops taking writes (SQLITE_READONLY on every INSERT/UPDATE).
    await sql`PRAGMA query_only = ON`.execute(db);
    call.pressDigit('1');
    const record = await h.finish(call);
    expect(record.outcome?.kind).toBe('completed');
    expect(h.eventsOf(call.callSid).some((e) => e.type === 'turn.agent' && e.nodeId === 'bye')).toBe(true);
    await recorder.flush();
    expect(recorder.failing).toBe(true);
    expect(recorder.pending).toBeGreaterThan(0);
    const ready = await h.app.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'degraded', history: { failing: true, backlog: recorder.pending } });

    await sql`PRAGMA query_only = OFF`.execute(db);
    await recorder.flush();
    expect(recorder.failing).toBe(false);
    expect(recorder.pending).toBe(0);
    const stored = await h.container.callHistory.get(call.callSid);
    expect(stored).toMatchObject({ state: 'ended', outcome: { kind: 'completed' } });
    const types = (await h.container.callHistory.events(call.callSid)).map((e) => e.type);
    expect(types).toContain('dtmf');
    expect(types).toContain('call.ended');
    expect((await h.app.inject({ method: 'GET', url: '/ready' })).json()).toMatchObject({ status: 'ready', history: { failing: false } });
  });
});

describe('process killed with live calls', () => {
  it('on the next start, calls the killed run left open are closed as failed (process_lost); ended calls are untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'process-lost-'));
    dirs.push(dir);
    const databaseUrl = `sqlite:${join(dir, 'runtime.db')}`;
    const first = await buildTestApp({ databaseUrl });
    const base = { accountSid: 'AC' + '0'.repeat(32), agentId: 'ag_x', slug: 'x', version: 1, from: CALLER, to: NUMBER, direction: 'inbound' as const };
    const live = { ...newCallRecord({ ...base, callSid: 'CAlive', nowMs: 1_000 }), state: 'ai' as const };
    live.streams.push({ streamSid: 'MZlive', startedAt: 1_100 });
    const done = { ...newCallRecord({ ...base, callSid: 'CAdone', nowMs: 1_000 }), state: 'ended' as const, endedAt: 2_000, outcome: { kind: 'completed' } };
    await first.container.callHistory.save(live);
    await first.container.callHistory.save(done);
    // What SIGKILL leaves: the rows as they were, nothing closed. Only the connection is let go here.
    await first.container.persistence.db.close();

    const second = await buildTestApp({ databaseUrl });
    try {
      const lost = await second.container.callHistory.get('CAlive');
      expect(lost).toMatchObject({ state: 'ended', outcome: { kind: 'failed', detail: 'process_lost' } });
      expect(lost!.endedAt).toEqual(expect.any(Number));
      expect(lost!.streams[0]).toMatchObject({ endReason: 'process_lost', endedAt: expect.any(Number) });
      expect(await second.container.callHistory.get('CAdone')).toMatchObject({ endedAt: 2_000, outcome: { kind: 'completed' } });
    } finally {
      await second.close({ keepData: true });
    }
  });
});
