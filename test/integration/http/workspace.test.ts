import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ManualClock } from '../../../src/core/clock.js';
import { HEARTBEAT_INTERVAL_MS } from '../../../src/handoff/heartbeat.js';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { bearer, signedIn } from './fixtures.js';

/**
 * WS /api/v1/workspace over a real loopback socket: a person is online while it
 * is open and beating (pings or {"type":"heartbeat"}), offline after two missed
 * beats (closed with 4000); the token comes as ?token= or in
 * Sec-WebSocket-Protocol; API keys and bad tokens are refused before the
 * upgrade; account changes are pushed; disabling or logging out closes it (4001).
 */

let t: TestApp;
let clock: ManualClock;
let base: string;

interface Client {
  ws: WebSocket;
  messages: { type: string; [k: string]: unknown }[];
  next(type: string): Promise<{ type: string; [k: string]: unknown }>;
  closed: Promise<{ code: number; reason: string }>;
}

function connect(path: string, protocols?: string[]): Promise<Client> {
  const ws = new WebSocket(`${base}${path}`, protocols);
  const messages: Client['messages'] = [];
  const waiters: { type: string; resolve: (m: Client['messages'][number]) => void }[] = [];
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    const waiter = waiters.find((w) => w.type === m.type);
    if (!waiter) return void messages.push(m);
    waiters.splice(waiters.indexOf(waiter), 1);
    waiter.resolve(m);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  const client: Client = {
    ws,
    messages,
    closed,
    next: (type) => {
      const seen = messages.find((m) => m.type === type);
      if (seen) {
        messages.splice(messages.indexOf(seen), 1);
        return Promise.resolve(seen);
      }
      return new Promise((resolve) => waiters.push({ type, resolve }));
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

async function presenceOf(id: string): Promise<string> {
  return (await t.app.inject({ method: 'GET', url: `/api/v1/staff/${id}`, headers: bearer(t.adminKey) })).json().presence;
}

beforeAll(async () => {
  clock = new ManualClock();
  t = await buildTestApp({ overrides: { clock } });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  base = `ws://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/api/v1`;
});
afterAll(async () => t.close());

describe('WS /workspace', () => {
  it('a flood of messages is dropped, then the socket is closed with 1008 (message rate limit)', async () => {
    const p = await signedIn(t, 'support');
    const c = await connect(`/workspace?token=${p.token}`);
    await c.next('hello');
    // No time passes on the manual clock: 200 heartbeats at once (20/s allowed, a burst of 40).
    for (let i = 0; i < 200; i++) c.ws.send('{"type":"heartbeat"}');
    expect(await c.closed).toEqual({ code: 1008, reason: 'message rate limit' });
    await expect.poll(() => presenceOf(p.id), { interval: 10 }).toBe('offline');
  });

  it('is online while open (token in the query), says hello, offline once closed', async () => {
    const p = await signedIn(t, 'support');
    const c = await connect(`/workspace?token=${p.token}`);
    expect(await c.next('hello')).toEqual({ type: 'hello', staffId: p.id, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS });
    expect(await presenceOf(p.id)).toBe('online');
    c.ws.close();
    await c.closed;
    await expect.poll(() => presenceOf(p.id), { interval: 10 }).toBe('offline');
  });

  it('takes the token from Sec-WebSocket-Protocol, alone or after "bearer"', async () => {
    const p = await signedIn(t, 'builder');
    const a = await connect('/workspace', ['bearer', p.token]);
    expect(a.ws.protocol).toBe('bearer');
    await a.next('hello');
    const b = await connect('/workspace', [p.token]);
    await b.next('hello');
    a.ws.close();
    b.ws.close();
    await Promise.all([a.closed, b.closed]);
  });

  it('refuses a bad token (401) and an API key (403) before the upgrade', async () => {
    await expect(connect('/workspace?token=vas_nope')).rejects.toThrow('HTTP 401');
    await expect(connect('/workspace')).rejects.toThrow('HTTP 401');
    await expect(connect(`/workspace?token=${t.adminKey}`)).rejects.toThrow('HTTP 403');
  });

  it('goes offline after two missed heartbeats (closed 4000); pings and heartbeat messages keep it online', async () => {
    const p = await signedIn(t, 'support');
    const c = await connect(`/workspace?token=${p.token}`);
    await c.next('hello');
    // A message beat at 20 s; a ping beat at 40 s (each acknowledged before time moves on).
    await clock.advance(20_000);
    c.ws.send(JSON.stringify({ type: 'heartbeat' }));
    c.ws.send('not json');
    await c.next('error'); // the server has read both frames
    await clock.advance(20_000);
    const pong = new Promise((r) => c.ws.once('pong', r));
    c.ws.ping();
    await pong;
    await clock.advance(2 * HEARTBEAT_INTERVAL_MS - 1);
    expect(await t.container.people.presence.isOnline(p.id)).toBe(true);
    await clock.advance(1);
    expect(await c.closed).toEqual({ code: 4000, reason: 'heartbeats missed' });
    expect(await presenceOf(p.id)).toBe('offline');
  });

  it('pushes changes of the person’s own account', async () => {
    const p = await signedIn(t, 'support');
    const c = await connect(`/workspace?token=${p.token}`);
    await c.next('hello');
    await t.app.inject({ method: 'PATCH', url: `/api/v1/staff/${p.id}`, headers: bearer(t.adminKey), payload: { displayName: 'New Name', maxConcurrentSessions: 4 } });
    expect((await c.next('account')).staff).toMatchObject({ id: p.id, displayName: 'New Name', maxConcurrentSessions: 4, presence: 'online' });
    const q = await t.app.inject({ method: 'POST', url: '/api/v1/queues', headers: bearer(t.adminKey), payload: { name: 'Pushed', members: [p.id] } });
    expect((await c.next('account')).staff).toMatchObject({ queues: [q.json().id] });
    c.ws.close();
    await c.closed;
  });

  it('closes at once (4001) when the person is disabled, and on logout for that session only', async () => {
    const p = await signedIn(t, 'support');
    const c = await connect(`/workspace?token=${p.token}`);
    await c.next('hello');
    await t.app.inject({ method: 'PATCH', url: `/api/v1/staff/${p.id}`, headers: bearer(t.adminKey), payload: { state: 'disabled' } });
    expect(await c.closed).toEqual({ code: 4001, reason: 'account disabled' });
    expect(await presenceOf(p.id)).toBe('offline');

    const q = await signedIn(t, 'support');
    const second = (await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: q.username, password: 'secret-password' } })).json().token;
    const one = await connect(`/workspace?token=${q.token}`);
    const two = await connect(`/workspace?token=${second}`);
    await Promise.all([one.next('hello'), two.next('hello')]);
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(q.token) });
    expect(await one.closed).toEqual({ code: 4001, reason: 'signed out' });
    expect(await t.container.people.presence.isOnline(q.id)).toBe(true);
    two.ws.close();
    await two.closed;
  });
});
