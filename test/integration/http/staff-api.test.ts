import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newCallRecord } from '../../../src/calls/call-record.js';
import { ManualClock } from '../../../src/core/clock.js';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { bearer } from './fixtures.js';

/**
 * The staff directory over HTTP: create with every field checked, usernames
 * unique whatever their case and immutable, edits (a password only when given,
 * email set or cleared), enable / disable / delete one or in bulk with per-id
 * results, remove and invite again with new roles, invitation links (single
 * use, 7 days, a resend invalidates the old one), the seat limit with 409
 * SEAT_LIMIT_REACHED, GET /usage, and calls of a deleted or removed person
 * marked assigneeUnreachable.
 */

let t: TestApp;
let clock: ManualClock;
let seq = 0;

const admin = () => bearer(t.adminKey);
async function api(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) {
  return t.app.inject({ method, url: `/api/v1${url}`, headers: admin(), ...(payload !== undefined ? { payload } : {}) });
}
async function create(body: Record<string, unknown> = {}) {
  const res = await api('POST', '/staff', { displayName: 'Dana Doe', username: `dana${++seq}`, password: 'secret1', role: 'support', ...body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; username: string; state: string; queues: string[] };
}
async function login(username: string, password: string) {
  return t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } });
}

beforeAll(async () => {
  clock = new ManualClock();
  t = await buildTestApp({ overrides: { clock }, env: { SEAT_LIMIT: '8', PUBLIC_URL: 'https://voice.example.com' } });
});
afterAll(async () => t.close());

describe('creating and editing people', () => {
  it('creates a person with every field and shows them without secrets', async () => {
    const res = await api('POST', '/staff', {
      displayName: 'Ann Lee',
      username: 'Ann.Lee',
      password: 'secret1',
      email: 'ann@example.com',
      role: 'support',
      phone: '+14155550123',
      maxConcurrentSessions: 2,
      showRealPhoneNumbers: true,
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({
      displayName: 'Ann Lee',
      username: 'Ann.Lee',
      email: 'ann@example.com',
      role: 'support',
      state: 'enabled',
      queues: [],
      presence: 'offline',
      maxConcurrentSessions: 2,
      liveSessions: 0,
      showRealPhoneNumbers: true,
      phone: '+14155550123',
      clientIdentity: null,
    });
    expect(res.body).not.toMatch(/password|scrypt|secret1/i);
    expect((await api('GET', `/staff/${res.json().id}`)).json().username).toBe('Ann.Lee');
    expect((await api('GET', '/staff')).json().items.map((s: { id: string }) => s.id)).toContain(res.json().id);
    await api('DELETE', `/staff/${res.json().id}`);
  });

  it('refuses bad fields with 400 VALIDATION_FAILED', async () => {
    const base = { displayName: 'X', username: 'valid-name', password: 'secret1', role: 'support' };
    for (const bad of [
      { username: 'a' },
      { username: 'has space' },
      { password: 'short' },
      { email: 'not-an-email' },
      { email: 'a@b' },
      { phone: '4155550123' },
      { phone: '+1555' },
      { phone: '+14155550123', clientIdentity: 'ann' },
      { clientIdentity: 'bad identity!' },
      { maxConcurrentSessions: 0 },
      { role: 'owner' },
      { displayName: '' },
      { queues: ['que_missing'] },
      { extra: true },
    ]) {
      const res = await api('POST', '/staff', { ...base, ...bad });
      expect(res.statusCode, JSON.stringify(bad)).toBe(400);
      expect(res.json().error.code, JSON.stringify(bad)).toBe('VALIDATION_FAILED');
    }
  });

  it('keeps usernames unique whatever their case, and immutable', async () => {
    const p = await create({ username: 'MixedCase' });
    const clash = await api('POST', '/staff', { displayName: 'Y', username: 'mixedcase', password: 'secret1', role: 'builder' });
    expect(clash.statusCode).toBe(409);
    expect(clash.json().error.code).toBe('USERNAME_TAKEN');
    const rename = await api('PATCH', `/staff/${p.id}`, { username: 'other' });
    expect(rename.statusCode).toBe(400);
    await api('DELETE', `/staff/${p.id}`);
  });

  it('edits fields; the password changes only when given; email can be cleared; unlimited is null', async () => {
    const p = await create({ email: 'old@example.com', maxConcurrentSessions: 3, clientIdentity: 'desk-1' });
    const res = await api('PATCH', `/staff/${p.id}`, { displayName: 'Renamed', email: null, maxConcurrentSessions: null, showRealPhoneNumbers: true });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ displayName: 'Renamed', email: null, maxConcurrentSessions: null, showRealPhoneNumbers: true, clientIdentity: 'desk-1' });
    expect((await login(p.username, 'secret1')).statusCode).toBe(200);
    await api('PATCH', `/staff/${p.id}`, { password: 'new-secret' });
    expect((await login(p.username, 'secret1')).statusCode).toBe(401);
    expect((await login(p.username, 'new-secret')).statusCode).toBe(200);
    expect((await api('PATCH', `/staff/${p.id}`, { phone: '+14155550123' })).json().error.code).toBe('VALIDATION_FAILED');
    expect((await api('PATCH', `/staff/${p.id}`, { clientIdentity: null, phone: '+14155550123' })).json().phone).toBe('+14155550123');
    expect((await api('PATCH', '/staff/stf_missing', { displayName: 'x' })).statusCode).toBe(404);
    await api('DELETE', `/staff/${p.id}`);
  });

  it('enables and disables one person through PATCH state', async () => {
    const p = await create();
    expect((await api('PATCH', `/staff/${p.id}`, { state: 'disabled' })).json().state).toBe('disabled');
    expect((await login(p.username, 'secret1')).statusCode).toBe(401);
    expect((await api('PATCH', `/staff/${p.id}`, { state: 'enabled' })).json().state).toBe('enabled');
    expect((await login(p.username, 'secret1')).statusCode).toBe(200);
    await api('DELETE', `/staff/${p.id}`);
  });
});

describe('bulk actions', () => {
  it('answers one result per id; a bad id does not stop the others', async () => {
    const a = await create();
    const b = await create();
    const dis = await api('POST', '/staff/bulk', { ids: [a.id, 'stf_nobody', b.id], action: 'disable' });
    expect(dis.statusCode, dis.body).toBe(200);
    expect(dis.json().results).toEqual([
      { id: a.id, ok: true },
      { id: 'stf_nobody', ok: false, error: { code: 'NOT_FOUND', message: expect.any(String) } },
      { id: b.id, ok: true },
    ]);
    expect((await api('GET', `/staff/${b.id}`)).json().state).toBe('disabled');
    const en = await api('POST', '/staff/bulk', { ids: [a.id], action: 'enable' });
    expect(en.json().results).toEqual([{ id: a.id, ok: true }]);
    const del = await api('POST', '/staff/bulk', { ids: [a.id, a.id, b.id], action: 'delete' });
    expect(del.json().results.map((r: { ok: boolean }) => r.ok)).toEqual([true, false, true]);
    expect((await api('GET', `/staff/${a.id}`)).statusCode).toBe(404);
    expect((await api('POST', '/staff/bulk', { ids: [], action: 'delete' })).statusCode).toBe(400);
    expect((await api('POST', '/staff/bulk', { ids: [a.id], action: 'remove' })).statusCode).toBe(400);
  });

  it('refuses an illegal transition per id (an invited person cannot be enabled before activating)', async () => {
    const invited = await create({ password: undefined });
    expect(invited.state).toBe('invited');
    const res = await api('POST', '/staff/bulk', { ids: [invited.id], action: 'enable' });
    expect(res.json().results[0]).toMatchObject({ ok: false, error: { code: 'ILLEGAL_TRANSITION' } });
    await api('DELETE', `/staff/${invited.id}`);
  });
});

describe('invitations', () => {
  it('gives a single-use activation link; a resend invalidates the old link; activation enables the account', async () => {
    const p = await create({ password: undefined });
    const first = await api('POST', `/staff/${p.id}/invite`);
    expect(first.statusCode, first.body).toBe(200);
    const { activationUrl, expiresAt } = first.json();
    expect(activationUrl).toMatch(/^https:\/\/voice\.example\.com\/console\/activate\?token=[\w-]{20,}$/);
    expect(Date.parse(expiresAt) - clock.wallNow()).toBe(7 * 24 * 3600 * 1000);
    const second = (await api('POST', `/staff/${p.id}/invite`)).json().activationUrl as string;
    const tokenOf = (url: string) => new URL(url).searchParams.get('token')!;

    const activate = (token: string, password = 'chosen-pw') =>
      t.app.inject({ method: 'POST', url: '/api/v1/auth/activate', payload: { token, password } });
    const stale = await activate(tokenOf(activationUrl));
    expect(stale.statusCode).toBe(400);
    expect(stale.json().error.code).toBe('INVALID_INVITATION');
    expect((await activate(tokenOf(second), 'short')).statusCode).toBe(400);
    const ok = await activate(tokenOf(second));
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().staff.state).toBe('enabled');
    expect((await activate(tokenOf(second))).json().error.code).toBe('INVALID_INVITATION');
    expect((await login(p.username, 'chosen-pw')).statusCode).toBe(200);
    // An enabled person has nothing to activate.
    expect((await api('POST', `/staff/${p.id}/invite`)).json().error.code).toBe('ILLEGAL_TRANSITION');
    await api('DELETE', `/staff/${p.id}`);
  });

  it('expires a link after 7 days', async () => {
    const p = await create({ password: undefined });
    const url = (await api('POST', `/staff/${p.id}/invite`)).json().activationUrl as string;
    await clock.advance(7 * 24 * 3600 * 1000);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/activate',
      payload: { token: new URL(url).searchParams.get('token'), password: 'chosen-pw' },
    });
    expect(res.json().error.code).toBe('INVALID_INVITATION');
    await api('DELETE', `/staff/${p.id}`);
  });

  it('removes a person from the workspace and invites them again with new roles', async () => {
    const queue = (await api('POST', '/queues', { name: `Q${++seq}` })).json();
    const p = await create({ role: 'admin', queues: [queue.id] });
    const removed = await api('POST', `/staff/${p.id}/remove`);
    expect(removed.json()).toMatchObject({ state: 'removed', role: null, queues: [] });
    expect((await login(p.username, 'secret1')).statusCode).toBe(401);
    expect((await api('PATCH', `/staff/${p.id}`, { role: 'builder' })).json().error.code).toBe('ILLEGAL_TRANSITION');
    expect((await api('POST', `/staff/${p.id}/invite`)).json().error.code).toBe('VALIDATION_FAILED');
    const again = await api('POST', `/staff/${p.id}/invite`, { role: 'builder', queues: [queue.id] });
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json().staff).toMatchObject({ state: 'invited', role: 'builder', queues: [queue.id] });
    await api('DELETE', `/staff/${p.id}`);
  });
});

describe('seats and usage', () => {
  it('counts invited, enabled and disabled people; 409 SEAT_LIMIT_REACHED past SEAT_LIMIT; removing or deleting frees a seat', async () => {
    const before = (await api('GET', '/usage')).json();
    expect(before.seats.limit).toBe(8);
    const made = [];
    for (let i = before.seats.used; i < 8; i++) made.push(await create());
    const full = await api('POST', '/staff', { displayName: 'One too many', username: `extra${++seq}`, role: 'support' });
    expect(full.statusCode).toBe(409);
    expect(full.json().error).toMatchObject({ code: 'SEAT_LIMIT_REACHED', details: { used: 8, limit: 8 } });
    expect((await api('GET', '/usage')).json().seats).toEqual({ used: 8, limit: 8 });
    await api('POST', `/staff/${made[0]!.id}/remove`);
    expect((await api('GET', '/usage')).json().seats.used).toBe(7);
    // The removed person's seat went to someone else: inviting them back is refused.
    const other = await create();
    expect((await api('POST', `/staff/${made[0]!.id}/invite`, { role: 'support' })).json().error.code).toBe('SEAT_LIMIT_REACHED');
    for (const p of [...made, other]) await api('DELETE', `/staff/${p.id}`);
    expect((await api('GET', '/usage')).json().seats.used).toBe(before.seats.used);
  });

  it('counts conversations people handled in the last 30 days', async () => {
    await t.container.callRecorder.flush();
    const base = newCallRecord({ callSid: 'CAusage1', accountSid: 'AC1', agentId: 'ag', slug: 's', version: 1, from: '+15550001111', to: '+15550002222', direction: 'inbound', nowMs: clock.wallNow() });
    const before = (await api('GET', '/usage')).json().sessionsLast30Days;
    await t.container.callHistory.save({ ...base, handledBy: ['stf_a'] });
    await t.container.callHistory.save({ ...base, callSid: 'CAusage2' });
    await t.container.callHistory.save({ ...base, callSid: 'CAusage3', handledBy: ['stf_b'], createdAt: clock.wallNow() - 31 * 24 * 3600 * 1000 });
    expect((await api('GET', '/usage')).json().sessionsLast30Days).toBe(before + 1);
  });
});

describe('calls of people who left', () => {
  it('stay readable, marked assigneeUnreachable once the person is deleted or removed', async () => {
    const kept = await create();
    const gone = await create();
    const left = await create();
    const base = newCallRecord({ callSid: 'CAx', accountSid: 'AC1', agentId: 'ag', slug: 's', version: 1, from: '+15550001111', to: '+15550002222', direction: 'inbound', nowMs: clock.wallNow() });
    await t.container.callHistory.save({ ...base, callSid: 'CAkept', handledBy: [kept.id] });
    await t.container.callHistory.save({ ...base, callSid: 'CAgone', handledBy: [kept.id, gone.id] });
    await t.container.callHistory.save({ ...base, callSid: 'CAleft', handledBy: [left.id] });
    await api('DELETE', `/staff/${gone.id}`);
    await api('POST', `/staff/${left.id}/remove`);
    expect((await api('GET', '/calls/CAkept')).json()).toMatchObject({ assignee: kept.id, assigneeUnreachable: false });
    expect((await api('GET', '/calls/CAgone')).json()).toMatchObject({ assignee: gone.id, assigneeUnreachable: true });
    expect((await api('GET', '/calls/CAleft')).json()).toMatchObject({ assignee: left.id, assigneeUnreachable: true });
    const list = (await api('GET', '/calls?limit=100')).json().items as { id: string; assigneeUnreachable: boolean; assignee: string | null }[];
    expect(Object.fromEntries(list.filter((c) => c.id.startsWith('CA') && ['CAkept', 'CAgone', 'CAleft'].includes(c.id)).map((c) => [c.id, c.assigneeUnreachable]))).toEqual({
      CAkept: false,
      CAgone: true,
      CAleft: true,
    });
    expect(list.find((c) => c.id === 'CAusage2')).toMatchObject({ assignee: null, assigneeUnreachable: false });
    await api('DELETE', `/staff/${kept.id}`);
    await api('DELETE', `/staff/${left.id}`);
  });
});
