import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { bearer } from './fixtures.js';

/**
 * Sign-in: a session token works like an API key with the person's role; every
 * wrong case is the same 401; at most 10 failures per username and per IP in 15
 * minutes, then 429 with Retry-After; logout ends the session; disabling,
 * removing or deleting a person refuses their tokens at once.
 */

let t: TestApp;
let clock: ManualClock;
let seq = 0;

async function person(role: 'admin' | 'builder' | 'support' = 'support', password: string | null = 'right-password') {
  return t.container.people.staff.create({ displayName: 'P', username: `user${++seq}`, role, ...(password ? { password } : {}) });
}
function login(username: string, password: string, ip = '10.0.0.1') {
  return t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password }, remoteAddress: ip });
}
const me = (token: string) => t.app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(token) });

beforeAll(async () => {
  clock = new ManualClock();
  t = await buildTestApp({ overrides: { clock } });
});
afterAll(async () => t.close());

describe('POST /auth/login', () => {
  it('returns a session token that authenticates with the person’s role, case-insensitive username', async () => {
    const p = await person('builder');
    const res = await login(p.username.toUpperCase(), 'right-password');
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.token).toMatch(/^vas_/);
    expect(Date.parse(body.expiresAt)).toBeGreaterThan(clock.wallNow());
    expect(body.staff).toMatchObject({ id: p.id, username: p.username, role: 'builder' });
    expect((await me(body.token)).json()).toMatchObject({ kind: 'session', staff: { id: p.id } });
    // The role matrix applies to the session like to a key.
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/agents', headers: bearer(body.token) })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: bearer(body.token) })).statusCode).toBe(403);
  });

  it('answers the same 401 for an unknown user, a wrong password, and a disabled, removed or invited account', async () => {
    const wrong = await person();
    const disabled = await person();
    await t.container.people.staff.disable(disabled.id);
    const removed = await person();
    await t.container.people.staff.remove(removed.id);
    const invited = await person('support', null);
    const bodies = new Set<string>();
    for (const [username, password] of [
      ['nobody-here', 'right-password'],
      [wrong.username, 'wrong-password'],
      [disabled.username, 'right-password'],
      [removed.username, 'right-password'],
      [invited.username, 'right-password'],
    ] as const) {
      const res = await login(username, password, `10.1.0.${++seq}`);
      expect(res.statusCode, username).toBe(401);
      bodies.add(res.body);
    }
    expect([...bodies]).toEqual([JSON.stringify({ error: { code: 'UNAUTHENTICATED', message: 'wrong username or password' } })]);
  });

  it('allows 10 failures per username in 15 minutes, then 429 with Retry-After even for the right password', async () => {
    const p = await person();
    for (let i = 0; i < 10; i++) expect((await login(p.username, 'nope', `10.2.0.${i}`)).statusCode).toBe(401);
    const limited = await login(p.username, 'right-password', '10.2.1.1');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBe(15 * 60);
    await clock.advance(15 * 60 * 1000 - 1000);
    expect(Number((await login(p.username, 'right-password', '10.2.1.1')).headers['retry-after'])).toBe(1);
    await clock.advance(1000);
    expect((await login(p.username, 'right-password', '10.2.1.1')).statusCode).toBe(200);
  });

  it('allows 10 failures per IP address across usernames', async () => {
    const p = await person();
    for (let i = 0; i < 10; i++) expect((await login(`guess${i}`, 'nope', '10.3.0.1')).statusCode).toBe(401);
    expect((await login(p.username, 'right-password', '10.3.0.1')).statusCode).toBe(429);
    expect((await login(p.username, 'right-password', '10.3.0.2')).statusCode).toBe(200);
  });

  it('refuses a malformed body with 400', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'x' } });
    expect(res.statusCode).toBe(400);
  });
});

describe('sessions end', () => {
  it('on logout, for that session only', async () => {
    const p = await person();
    const a = (await login(p.username, 'right-password', '10.4.0.1')).json().token;
    const b = (await login(p.username, 'right-password', '10.4.0.1')).json().token;
    const out = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(a) });
    expect(out.statusCode).toBe(204);
    expect((await me(a)).statusCode).toBe(401);
    expect((await me(b)).statusCode).toBe(200);
  });

  it.each(['disable', 'remove', 'delete'] as const)('at once when the person is %sd', async (action) => {
    const p = await person();
    const token = (await login(p.username, 'right-password', '10.5.0.1')).json().token;
    expect((await me(token)).statusCode).toBe(200);
    await t.container.people.staff[action](p.id);
    const res = await me(token);
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('UNAUTHENTICATED');
    if (action === 'disable') {
      // Enabling again does not revive the old session.
      await t.container.people.staff.enable(p.id);
      expect((await me(token)).statusCode).toBe(401);
    }
  });

  it('after 12 hours', async () => {
    const p = await person();
    const token = (await login(p.username, 'right-password', '10.6.0.1')).json().token;
    await clock.advance(12 * 3600 * 1000);
    expect((await me(token)).statusCode).toBe(401);
  });

  it('logout with an API key is a 400 that names the right route', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(t.adminKey) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(/DELETE \/api-keys/);
  });
});

describe('GET /me', () => {
  it('names the API key for a key', async () => {
    expect((await me(t.adminKey)).json()).toEqual({ kind: 'api-key', apiKey: { id: expect.any(String), name: 'ADMIN_API_KEY', role: 'admin' } });
  });
});
