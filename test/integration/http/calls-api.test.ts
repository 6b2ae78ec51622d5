import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../../src/auth/roles.js';
import { ROLES } from '../../../src/auth/roles.js';
import { ManualClock } from '../../../src/core/clock.js';
import { ROUTE_ROLES } from '../../../src/http/auth.js';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { bearer, keysByRole } from './fixtures.js';

/**
 * GET /calls and GET /calls/:id: the record as the live ledger made it (agent,
 * pinned version, streams, next step, outcome, turns with per-turn metrics and
 * the event history), newest first with filters and a cursor, numbers masked
 * for every role but admin, readable by admin, builder and support, and kept
 * across a restart.
 */

const CALLER = '+15550001111';
const LINE = '+15550100002';
const TRANSFER_TO = '+15550109999';

let t: TestApp;
let keys: Record<Role, string>;
let clock: ManualClock;

async function seedCall(n: number, init: { agentId?: string; end?: boolean } = {}): Promise<string> {
  const calls = t.container.telephony.calls;
  const callSid = `CA${String(n).padStart(32, '0')}`;
  await calls.open({
    callSid,
    accountSid: 'AC1',
    agentId: init.agentId ?? 'ag_pizza',
    slug: init.agentId === 'ag_clinic' ? 'clinic' : 'pizza',
    version: 3,
    from: CALLER,
    to: LINE,
    direction: 'inbound',
  });
  await calls.streamStarted(callSid, `MZ${n}`);
  calls.emit({ type: 'node.entered', callSid, nodeId: 'welcome', nodeType: 'say' });
  await calls.addTurn(callSid, { role: 'agent', text: 'Hello.', at: clock.wallNow(), nodeId: 'welcome' });
  await calls.addTurn(callSid, {
    role: 'caller',
    text: 'call me back on +15550107777',
    at: clock.wallNow() + 1500,
    via: 'speech',
    metrics: { endpointMs: 180, responseMs: 640, llmFirstTokenMs: 300, llmFirstSentenceMs: 420, ttsFirstByteMs: 150, overheadMs: 70 },
  });
  if (init.end) {
    await calls.setNextStep(callSid, { kind: 'dial', number: TRANSFER_TO });
    calls.emit({ type: 'transfer.requested', callSid, mode: 'cold', target: { number: TRANSFER_TO }, nodeId: 'agent' });
    await calls.setOutcome(callSid, 'transferred');
    await calls.end(callSid, 'dialed');
  }
  await clock.advance(1000); // the next call starts later: newest-first order is by start time
  return callSid;
}

async function get(url: string, role: Role = 'admin') {
  return t.app.inject({ method: 'GET', url, headers: bearer(keys[role]) });
}

let first: string;
let second: string;
let third: string;

beforeAll(async () => {
  clock = new ManualClock();
  t = await buildTestApp({ overrides: { clock } });
  keys = await keysByRole(t);
  first = await seedCall(1, { end: true });
  second = await seedCall(2, { agentId: 'ag_clinic' });
  third = await seedCall(3);
});
afterAll(async () => t.close());

describe('GET /calls', () => {
  it('lists newest first with a cursor', async () => {
    const page1 = await get('/api/v1/calls?limit=2');
    expect(page1.statusCode, page1.body).toBe(200);
    expect(page1.json().items.map((c: { id: string }) => c.id)).toEqual([third, second]);
    const page2 = await get(`/api/v1/calls?limit=2&cursor=${page1.json().nextCursor}`);
    expect(page2.json()).toMatchObject({ items: [{ id: first }], nextCursor: null });
    expect(page2.json().items[0]).toMatchObject({
      agent: { id: 'ag_pizza', slug: 'pizza' },
      version: 3,
      direction: 'inbound',
      state: 'ended',
      outcome: { kind: 'transferred' },
      from: CALLER,
      to: LINE,
    });
    expect(page2.json().items[0].endedAt).toEqual(expect.any(String));
  });

  it('filters by agent and by state', async () => {
    expect((await get('/api/v1/calls?agentId=ag_clinic')).json().items.map((c: { id: string }) => c.id)).toEqual([second]);
    expect((await get('/api/v1/calls?state=ended')).json().items.map((c: { id: string }) => c.id)).toEqual([first]);
    expect((await get('/api/v1/calls?state=ai&agentId=ag_pizza')).json().items.map((c: { id: string }) => c.id)).toEqual([third]);
    expect((await get('/api/v1/calls?agentId=nobody')).json()).toEqual({ items: [], nextCursor: null });
  });

  it('refuses a bad state, limit or cursor with 400', async () => {
    for (const q of ['state=ringing', 'limit=0', 'limit=101', 'cursor=not-ours']) {
      const res = await get(`/api/v1/calls?${q}`);
      expect(res.statusCode, q).toBe(400);
      expect(res.json().error.code, q).toMatch(/BAD_REQUEST|VALIDATION_FAILED/);
    }
  });

  it('masks numbers for builder and support, not for admin', async () => {
    for (const role of ['builder', 'support'] as const) {
      const item = (await get('/api/v1/calls', role)).json().items[0];
      expect(item, role).toMatchObject({ from: '+1****1111', to: '+1****0002' });
    }
    expect((await get('/api/v1/calls')).json().items[0]).toMatchObject({ from: CALLER, to: LINE });
  });
});

describe('GET /calls/:id', () => {
  it('shows the whole record with turns, per-turn metrics and the event history', async () => {
    const res = await get(`/api/v1/calls/${first}`);
    expect(res.statusCode, res.body).toBe(200);
    const call = res.json();
    expect(call).toMatchObject({
      id: first,
      agent: { id: 'ag_pizza', slug: 'pizza' },
      version: 3,
      from: CALLER,
      to: LINE,
      state: 'ended',
      handler: { kind: 'ai', agentId: 'ag_pizza', version: 3 },
      streams: [{ streamSid: 'MZ1' }],
      nextStep: { kind: 'dial', number: TRANSFER_TO },
      outcome: { kind: 'transferred' },
    });
    expect(call.streams[0].startedAt).toMatch(/^2026-/);
    expect(call.turns).toEqual([
      { role: 'agent', text: 'Hello.', at: expect.any(String), nodeId: 'welcome' },
      {
        role: 'caller',
        text: 'call me back on +15550107777',
        at: expect.any(String),
        via: 'speech',
        metrics: { endpointMs: 180, responseMs: 640, llmFirstTokenMs: 300, llmFirstSentenceMs: 420, ttsFirstByteMs: 150, overheadMs: 70 },
      },
    ]);
    expect(call.events.map((e: { type: string }) => e.type)).toEqual([
      'call.started',
      'call.state',
      'stream.started',
      'node.entered',
      'next_step.set',
      'transfer.requested',
      'call.state',
      'call.ended',
    ]);
    expect(call.events[0]).toMatchObject({ type: 'call.started', version: 3, at: expect.stringMatching(/^2026-/) });
    expect(call.events[0].callSid).toBeUndefined();
  });

  it('masks every number in the record for non-admins: from, to, the dial target, events and turn text', async () => {
    const body = (await get(`/api/v1/calls/${first}`, 'support')).body;
    expect(body).not.toContain(CALLER);
    expect(body).not.toContain(TRANSFER_TO);
    expect(body).not.toContain('+15550107777');
    const call = JSON.parse(body);
    expect(call.nextStep).toEqual({ kind: 'dial', number: '+1****9999' });
    expect(call.events.find((e: { type: string }) => e.type === 'transfer.requested').target).toEqual({ number: '+1****9999' });
    expect(call.turns[1].text).toBe('call me back on +1****7777');
  });

  it('answers 404 for an unknown call', async () => {
    const res = await get('/api/v1/calls/CAnope');
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('NOT_FOUND');
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/calls', '/api/v1/calls/{id}']));
  });
});

describe('calls routes in the role matrix', () => {
  for (const route of ['GET /calls', 'GET /calls/:id'] as const) {
    it(`${route}: 401 without a valid token, 200 for admin, builder and support`, async () => {
      expect(ROUTE_ROLES[route]).toEqual(['admin', 'builder', 'support']);
      const url = route === 'GET /calls' ? '/api/v1/calls' : `/api/v1/calls/${first}`;
      for (const headers of [{}, bearer('vak_not-a-real-key')]) {
        const res = await t.app.inject({ method: 'GET', url, headers });
        expect(res.statusCode).toBe(401);
        expect(res.json().error.code).toBe('UNAUTHENTICATED');
      }
      for (const role of ROLES) expect((await get(url, role)).statusCode, role).toBe(200);
    });
  }
});

describe('call history survives a restart', () => {
  it('keeps records and events in SQL', async () => {
    const restartClock = new ManualClock();
    const before = await buildTestApp({ overrides: { clock: restartClock } });
    const calls = before.container.telephony.calls;
    await calls.open({ callSid: 'CArestart', accountSid: 'AC1', agentId: 'ag', slug: 's', version: 1, from: CALLER, to: LINE, direction: 'inbound' });
    await calls.streamStarted('CArestart', 'MZr');
    await calls.end('CArestart', 'stop');
    // No read and no timer in between: closing writes what is queued.
    await before.close({ keepData: true });

    const after = await buildTestApp({ databaseUrl: before.databaseUrl, env: { ADMIN_API_KEY: before.adminKey } });
    try {
      const res = await after.app.inject({ method: 'GET', url: '/api/v1/calls/CArestart', headers: bearer(after.adminKey) });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ state: 'ended', streams: [{ streamSid: 'MZr' }], outcome: { kind: 'completed' } });
      expect(res.json().events.map((e: { type: string }) => e.type)).toEqual(['call.started', 'call.state', 'stream.started', 'call.state', 'call.ended']);
      const list = await after.app.inject({ method: 'GET', url: '/api/v1/calls', headers: bearer(after.adminKey) });
      expect(list.json().items.map((c: { id: string }) => c.id)).toEqual(['CArestart']);
    } finally {
      await after.close();
    }
  });
});
