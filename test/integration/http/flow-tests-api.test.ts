import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { bearer, keysByRole } from './fixtures.js';

/**
 * Invariants: a suite stored with an agent runs against the draft or a
 * published version and reports the first divergence; a bad suite is refused
 * with 400 and the JSON path of the problem; with `requireTestsToPublish`, a
 * failing (or missing) suite makes publish answer 422 TESTS_FAILED with the
 * report, and nothing is published.
 */
/** `salesKey`: the key that reaches sales (a changed draft moves it, so the sales case parts at `route`). */
const menuFlow = (salesKey = '1') => ({
  version: 1,
  name: 'Menu',
  start: 'hello',
  nodes: [
    { id: 'hello', type: 'say', text: 'Welcome.', next: 'menu' },
    { id: 'menu', type: 'gather', prompt: 'Press 1 for sales.', variable: 'choice', input: ['dtmf'], valueType: 'digits', digits: { min: 1, max: 1, terminator: 'none' }, next: 'route', onFailure: 'bye' },
    { id: 'route', type: 'branch', branches: [{ if: { var: 'choice', op: 'eq', value: salesKey }, to: 'sales' }], else: 'bye' },
    { id: 'sales', type: 'transfer', target: { queue: 'sales' }, mode: 'cold', onUnavailable: 'bye' },
    { id: 'bye', type: 'end', text: 'Goodbye.' },
  ],
});
const suite = {
  version: 1,
  cases: [
    { name: 'sales', turns: [{ digits: '1' }], expect: { path: ['hello', 'menu', 'route', 'sales'], transfer: { queue: 'sales' }, outcome: 'transferred' } },
    { name: 'other key', turns: [{ digits: '5' }], expect: { path: ['hello', 'menu', 'route', 'bye'], said: ['Goodbye'] } },
  ],
};

let t: TestApp;
let support: string;
const api = (method: 'GET' | 'PUT' | 'POST' | 'PATCH', url: string, payload?: unknown, token = t.adminKey) =>
  t.app.inject({ method, url: `/api/v1${url}`, headers: { ...bearer(token), ...(typeof payload === 'string' ? { 'content-type': 'application/json' } : {}) }, ...(payload !== undefined ? { payload: payload as object } : {}) });

beforeAll(async () => {
  t = await buildTestApp();
  support = (await keysByRole(t)).support;
});
afterAll(async () => t.close());

async function newAgent(flow: unknown = menuFlow()) {
  const res = await api('POST', '/agents', { name: `Tests ${Math.random()}`, flow });
  expect(res.statusCode).toBe(201);
  return res.json() as { id: string; slug: string; draft: { revision: number } };
}

describe('PUT/GET /agents/:id/tests', () => {
  it('stores a suite; support reads it with its last run; 404 before one is stored', async () => {
    const a = await newAgent();
    const missing = await api('GET', `/agents/${a.id}/tests`);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.message).toContain('has no test suite');
    const put = await api('PUT', `/agents/${a.id}/tests`, suite);
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ requireTestsToPublish: false, updatedBy: expect.any(String), lastRun: null, suite: { version: 1, cases: [{ name: 'sales' }, { name: 'other key' }] } });
    await api('POST', `/agents/${a.id}/tests/run`, {});
    const read = await api('GET', `/agents/${a.slug}/tests`, undefined, support);
    expect(read.statusCode).toBe(200);
    expect(read.json().lastRun).toMatchObject({ version: null, draftRevision: 1, report: { passed: true, total: 2, failed: 0 } });
  });

  it('refuses a bad suite with 400 and a clear message naming the JSON path', async () => {
    const a = await newAgent();
    const bad = await api('PUT', `/agents/${a.id}/tests`, { version: 1, cases: [{ name: 'x', turns: [{ digits: 'one' }], expect: {} }] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/^the test suite is not valid: cases\[0\]\.turns\[0\]/) });
    expect(bad.json().error.details.issues[0].path).toMatch(/^cases\[0\]\.turns\[0\]/);
    const empty = await api('PUT', `/agents/${a.id}/tests`, { version: 1, cases: [] });
    expect(empty.json().error.message).toContain('cases:');
    const notJson = await api('PUT', `/agents/${a.id}/tests`, '{ "version": 1, ');
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().error.code).toBe('INVALID_JSON');
    const array = await api('PUT', `/agents/${a.id}/tests`, [suite]);
    expect(array.statusCode).toBe(400);
    expect((await api('GET', `/agents/${a.id}/tests`)).statusCode).toBe(404);
  });
});

describe('POST /agents/:id/tests/run', () => {
  it('a passing run on a version and a failing run on a changed draft, naming the first divergence', async () => {
    const a = await newAgent();
    await api('PUT', `/agents/${a.id}/tests`, suite);
    expect((await api('POST', `/agents/${a.id}/publish`, {})).statusCode).toBe(201);
    const save = await api('PUT', `/agents/${a.id}/draft`, { flow: menuFlow('2'), baseRevision: a.draft.revision });
    expect(save.statusCode).toBe(200);

    const onVersion = await api('POST', `/agents/${a.id}/tests/run`, { version: 1 });
    expect(onVersion.statusCode).toBe(200);
    expect(onVersion.json()).toMatchObject({ version: 1, report: { passed: true } });

    const onDraft = await api('POST', `/agents/${a.id}/tests/run`, { draft: true });
    expect(onDraft.statusCode).toBe(200);
    const report = onDraft.json().report;
    expect(report).toMatchObject({ passed: false, total: 2, failed: 1 });
    expect(report.cases[0].failures[0]).toMatchObject({
      kind: 'path',
      step: 3,
      nodeId: 'bye',
      expected: ['hello', 'menu', 'route', 'sales'],
      actual: ['hello', 'menu', 'route', 'bye'],
      message: 'the path parts at step 4: expected sales, got bye',
    });
    expect(report.cases[1].passed).toBe(true);
  });

  it('errors: no suite 404, unknown version 404, a draft with errors 422, a body with both forms 400', async () => {
    const a = await newAgent();
    expect((await api('POST', `/agents/${a.id}/tests/run`, {})).statusCode).toBe(404);
    await api('PUT', `/agents/${a.id}/tests`, suite);
    expect((await api('POST', `/agents/${a.id}/tests/run`, { version: 9 })).statusCode).toBe(404);
    expect((await api('POST', `/agents/${a.id}/tests/run`, { version: 1, draft: true })).statusCode).toBe(400);
    await api('PUT', `/agents/${a.id}/draft`, { flow: { ...menuFlow(), start: 'nowhere' }, baseRevision: a.draft.revision });
    const invalid = await api('POST', `/agents/${a.id}/tests/run`);
    expect(invalid.statusCode).toBe(422);
    expect(invalid.json().error.code).toBe('INVALID_FLOW');
  });
});

describe('requireTestsToPublish', () => {
  it('publish answers 422 TESTS_FAILED with the report while the suite fails or is missing, and publishes once it passes', async () => {
    const a = await newAgent(menuFlow('2'));
    const patched = await api('PATCH', `/agents/${a.id}`, { requireTestsToPublish: true });
    expect(patched.statusCode).toBe(200);
    expect(patched.json().requireTestsToPublish).toBe(true);

    const noSuite = await api('POST', `/agents/${a.id}/publish`, {});
    expect(noSuite.statusCode).toBe(422);
    expect(noSuite.json().error).toMatchObject({ code: 'TESTS_FAILED', message: expect.stringContaining('has none') });

    await api('PUT', `/agents/${a.id}/tests`, suite);
    const blocked = await api('POST', `/agents/${a.id}/publish`, { note: 'should not land' });
    expect(blocked.statusCode).toBe(422);
    expect(blocked.json().error).toMatchObject({ code: 'TESTS_FAILED', message: 'the draft fails 1 of 2 test case(s); fix them before publishing' });
    expect(blocked.json().error.details.report.cases[0].failures[0]).toMatchObject({ kind: 'path', nodeId: 'bye' });
    expect((await api('GET', `/agents/${a.id}`)).json().latestVersion).toBe(0);

    const agent = (await api('GET', `/agents/${a.id}`)).json() as { draft: { revision: number } };
    await api('PUT', `/agents/${a.id}/draft`, { flow: menuFlow(), baseRevision: agent.draft.revision });
    const published = await api('POST', `/agents/${a.id}/publish`, {});
    expect(published.statusCode).toBe(201);
    expect(published.json().version).toBe(1);
    expect((await api('GET', `/agents/${a.id}/tests`)).json().lastRun.report.passed).toBe(true);

    // Without the switch, a failing suite does not block.
    await api('PATCH', `/agents/${a.id}`, { requireTestsToPublish: false });
    const now = (await api('GET', `/agents/${a.id}`)).json() as { draft: { revision: number } };
    await api('PUT', `/agents/${a.id}/draft`, { flow: menuFlow('2'), baseRevision: now.draft.revision });
    expect((await api('POST', `/agents/${a.id}/publish`, {})).statusCode).toBe(201);
  });
});

describe('GET /agents/:id/versions/:a/diff/:b', () => {
  it('compares two published versions, or a version and the draft; unknown versions 404, bad refs 400', async () => {
    const a = await newAgent();
    expect((await api('POST', `/agents/${a.id}/publish`, {})).statusCode).toBe(201);
    await api('PUT', `/agents/${a.id}/draft`, { flow: { ...menuFlow('2'), settings: { fallbackMessage: 'Oops.' } }, baseRevision: a.draft.revision });
    expect((await api('POST', `/agents/${a.id}/publish`, {})).statusCode).toBe(201);

    const res = await api('GET', `/agents/${a.slug}/versions/1/diff/2`, undefined, support);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      from: 1,
      to: 2,
      same: false,
      nodes: { added: [], removed: [], changed: [{ id: 'route', type: 'branch', fields: [{ path: 'branches[0].if.value', from: '1', to: '2' }] }] },
      settings: [{ path: 'fallbackMessage', to: 'Oops.' }],
      flow: [],
    });
    expect((await api('GET', `/agents/${a.id}/versions/2/diff/draft`)).json()).toMatchObject({ from: 2, to: 'draft', same: true });
    expect((await api('GET', `/agents/${a.id}/versions/1/diff/7`)).statusCode).toBe(404);
    // Support may compare flows, but call figures are for the roles that read analytics.
    expect(res.json()).not.toHaveProperty('calls');
    expect((await api('GET', `/agents/${a.id}/versions/0/diff/1`)).statusCode).toBe(400);
  });

  it("puts the two versions' call figures side by side for builders and admins", async () => {
    const a = await newAgent();
    await api('POST', `/agents/${a.id}/publish`, {});
    await api('PUT', `/agents/${a.id}/draft`, { flow: menuFlow('2'), baseRevision: a.draft.revision });
    await api('POST', `/agents/${a.id}/publish`, {});
    const calls = t.container.telephony.calls;
    // Two calls on v1 (one the caller left), one on v2, each with a measured reply.
    for (const [n, version, reason, responseMs] of [
      [1, 1, 'end', 700],
      [2, 1, 'caller_hangup', 900],
      [3, 2, 'end', 500],
    ] as const) {
      const callSid = `CA${'d'.repeat(31)}${n}`;
      await calls.open({ callSid, accountSid: 'AC1', agentId: a.id, slug: a.slug, version, from: '+15550001111', to: '+15550100002', direction: 'inbound' });
      calls.emit({ type: 'turn.agent', callSid, text: 'Hi.', heardText: 'Hi.', outcome: 'played', cached: false, nodeId: 'route', metrics: { responseMs, overheadMs: 10 } });
      await calls.end(callSid, reason);
    }
    const body = (await api('GET', `/agents/${a.id}/versions/1/diff/2`)).json();
    expect(body.calls.versions.from).toMatchObject({ calls: 2, ended: 2, outcomes: { completed: 1, abandoned: 1 }, latency: { turns: 2, responseMs: { p50: 700, p95: 900 } } });
    expect(body.calls.versions.to).toMatchObject({ calls: 1, outcomes: { completed: 1, abandoned: 0 }, latency: { responseMs: { p50: 500 } } });
    expect(Date.parse(body.calls.to) - Date.parse(body.calls.from)).toBe(30 * 86_400_000);
    // The draft has no calls of its own.
    expect((await api('GET', `/agents/${a.id}/versions/2/diff/draft`)).json().calls.versions).toEqual({ from: body.calls.versions.to, to: null });
  });
});
