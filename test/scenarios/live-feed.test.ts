import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { CallEvent } from '../../src/calls/events.js';
import { maskNumbersDeep } from '../../src/handoff/masking.js';
import { CALLER, startHarness, type Harness } from './harness.js';

/**
 * `WS /api/v1/calls/:id/live` over a real call on the Twilio simulator: a
 * warm transfer to a queue whose person accepts, then leaves, so the AI takes
 * the caller back and the flow ends the call. Viewers connect over a real
 * socket on the server's port, signed in as people.
 */
const NUMBER = '+15550100031';
const OTHER_LINE = '+15550100099';

const flow = {
  version: 1,
  name: 'Live line',
  settings: { handoffNode: 'welcome-back' },
  start: 'hello',
  nodes: [
    { id: 'hello', type: 'say', text: `Hello. Our other line is ${OTHER_LINE}.`, next: 'xfer' },
    {
      id: 'xfer',
      type: 'transfer',
      target: { queue: 'live' },
      mode: 'warm',
      announce: 'Connecting you.',
      summary: 'A caller wants a person.',
      onUnavailable: 'sorry',
      ringSeconds: 20,
    },
    { id: 'sorry', type: 'end', text: 'Nobody is free.' },
    { id: 'welcome-back', type: 'say', text: 'Welcome back.', next: 'bye' },
    { id: 'bye', type: 'end', text: 'Goodbye.' },
  ],
};

let h: Harness | undefined;
let dir: string | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await h?.close();
  h = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function setup(): Promise<Harness> {
  dir = await mkdtemp(join(tmpdir(), 'live-feed-'));
  await writeFile(join(dir, 'live.json'), JSON.stringify(flow));
  h = await startHarness({ env: { FLOWS_DIR: dir, PHONE_NUMBERS: `${NUMBER}=live` }, warm: ['live'] });
  return h;
}

let seq = 0;
async function signedIn(hh: Harness, role: 'admin' | 'support', showRealPhoneNumbers: boolean): Promise<string> {
  const n = ++seq;
  await hh.container.people.staff.create({ displayName: `Viewer ${n}`, username: `viewer${n}`, role, password: 'secret-pw', showRealPhoneNumbers });
  const r = await hh.container.people.sessions.login(`viewer${n}`, 'secret-pw', '127.0.0.1');
  if (r.kind !== 'ok') throw new Error(`login: ${r.kind}`);
  return r.token;
}

type Message = { type: 'event'; event: Record<string, unknown> & { type: string; at: string } } | { type: 'caught_up'; ended: boolean };

interface Viewer {
  messages: Message[];
  closed: Promise<{ code: number; reason: string }>;
  isClosed(): boolean;
}

const urlOf = (hh: Harness, path: string) => `ws://127.0.0.1:${(hh.app.server.address() as AddressInfo).port}/api/v1${path}`;

async function watch(hh: Harness, callSid: string, token: string): Promise<Viewer> {
  const ws = new WebSocket(urlOf(hh, `/calls/${callSid}/live?token=${token}`));
  sockets.push(ws);
  const messages: Message[] = [];
  let isClosed = false;
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Message));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      isClosed = true;
      resolve({ code, reason: String(reason) });
    }),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { messages, closed, isClosed: () => isClosed };
}

/** Socket I/O is real: poll in real time (bounded), without moving the call's clock. */
async function waitFor(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (done()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** What a viewer should get for an event: the call id dropped, the time as ISO. */
const expected = ({ callSid: _sid, at, ...e }: CallEvent) => ({ ...e, at: new Date(at).toISOString() });
const eventsIn = (v: Viewer) => v.messages.flatMap((m) => (m.type === 'event' ? [m.event] : []));
const caughtUpAt = (v: Viewer) => v.messages.findIndex((m) => m.type === 'caught_up');

// The first test also pays for the harness's first start (9 s seen inside the full suite on a busy
// CI machine): a limit for slowness, not a figure under test.
describe('WS /calls/:id/live over a simulated call', { timeout: 30_000 }, () => {
  it('from the start, a late joiner, masking per viewer, and the close after call.ended', async () => {
    const hh = await setup();
    // The person who takes the transfer: in the queue, online, answers and presses 1.
    const phone = '+15550107001';
    const ana = await hh.container.people.staff.create({ displayName: 'Ana', username: 'ana', role: 'support', password: 'secret-pw', phone });
    await hh.container.people.queues.create({ name: 'live', members: [ana.id] });
    hh.sim.setPerson(phone, 'accept');
    await hh.container.people.workspace.open(ana.id, undefined, { send: () => undefined, close: () => undefined });

    const adminToken = await signedIn(hh, 'admin', true);
    const supportToken = await signedIn(hh, 'support', false);

    const call = await hh.sim.placeCall({ from: CALLER, to: NUMBER });
    const sid = call.callSid;
    const early = await watch(hh, sid, adminToken);
    await waitFor(() => caughtUpAt(early) >= 0, 'the early viewer to catch up');
    expect(early.messages[caughtUpAt(early)]).toEqual({ type: 'caught_up', ended: false });
    const backlogOfEarly = caughtUpAt(early);

    // Turns and node transitions reach the early viewer as they happen.
    await hh.until(() => hh.eventsOf(sid).some((e) => e.type === 'turn.agent'), { what: 'the first agent turn' });
    await waitFor(() => eventsIn(early).some((e) => e.type === 'turn.agent'), 'the turn on the feed');
    expect(eventsIn(early).some((e) => e.type === 'call.ended')).toBe(false);
    // A viewer who may see real numbers sees them in the text.
    expect(eventsIn(early).find((e) => e.type === 'turn.agent')).toMatchObject({ text: `Hello. Our other line is ${OTHER_LINE}.` });

    await hh.until(async () => (await hh.record(sid)).state === 'human', { what: 'the person to take the call' });
    await waitFor(() => eventsIn(early).some((e) => e.type === 'call.state' && e.to === 'human'), 'the state change on the feed');
    expect(eventsIn(early).map((e) => e.type)).toContain('transfer.accepted');

    // A late joiner: everything so far (masked for a support viewer), then caught_up, then what comes next.
    const soFar = hh.eventsOf(sid).map(expected);
    const late = await watch(hh, sid, supportToken);
    await waitFor(() => caughtUpAt(late) >= 0, 'the late joiner to catch up');
    expect(late.messages[caughtUpAt(late)]).toEqual({ type: 'caught_up', ended: false });
    expect(eventsIn(late)).toEqual(maskNumbersDeep(soFar));
    expect(JSON.stringify(late.messages)).not.toContain(OTHER_LINE);
    expect(eventsIn(late).find((e) => e.type === 'turn.agent')).toMatchObject({ text: 'Hello. Our other line is +1****0099.' });

    // The person leaves: the AI takes the caller back and the flow ends the call.
    await hh.sim.legsTo(phone)[0]!.hangUp();
    await hh.finish(call);
    // The feed ends with call.ended (what the stream reports after it stays in history).
    const events = hh.eventsOf(sid);
    const all = events.slice(0, events.findIndex((e) => e.type === 'call.ended') + 1).map(expected);
    expect(all.at(-1)).toMatchObject({ type: 'call.ended' });

    // Both sockets close after call.ended, normally.
    expect(await early.closed).toEqual({ code: 1000, reason: 'call ended' });
    expect(await late.closed).toEqual({ code: 1000, reason: 'call ended' });

    // Every event exactly once, in order; caught_up once, before the events that came after joining.
    expect(eventsIn(early)).toEqual(all);
    expect(eventsIn(late)).toEqual(maskNumbersDeep(all));
    expect(late.messages.filter((m) => m.type === 'caught_up')).toHaveLength(1);
    expect(caughtUpAt(late)).toBe(soFar.length);
    const afterJoin = eventsIn(late).slice(soFar.length).map((e) => e.type);
    expect(afterJoin).toEqual(expect.arrayContaining(['handoff.person_left', 'node.entered', 'turn.agent', 'call.ended']));
    expect(afterJoin.at(-1)).toBe('call.ended');
    expect(early.messages.filter((m) => m.type === 'caught_up')).toHaveLength(1);
    // The early viewer joined before the greeting: the transitions and turns came after caught_up.
    expect(
      eventsIn(early)
        .slice(backlogOfEarly)
        .map((e) => e.type),
    ).toEqual(expect.arrayContaining(['node.entered', 'turn.agent', 'transfer.accepted', 'call.ended']));

    // A viewer after the end: the whole call, caught_up (ended), then the close.
    const after = await watch(hh, sid, supportToken);
    expect(await after.closed).toEqual({ code: 1000, reason: 'call ended' });
    expect(eventsIn(after)).toEqual(maskNumbersDeep(all));
    expect(after.messages.at(-1)).toEqual({ type: 'caught_up', ended: true });
  });

  it('refuses an unknown call with 404 NOT_FOUND before the upgrade, and a missing token with 401', async () => {
    const hh = await setup();
    const token = await signedIn(hh, 'admin', true);
    const refusal = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const ws = new WebSocket(urlOf(hh, path));
        sockets.push(ws);
        ws.on('open', () => reject(new Error('the socket opened')));
        ws.on('error', () => undefined);
        ws.on('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += String(c)));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
      });
    const unknown = await refusal(`/calls/CA${'0'.repeat(32)}/live?token=${token}`);
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body).error).toMatchObject({ code: 'NOT_FOUND' });
    expect((await refusal(`/calls/CA${'0'.repeat(32)}/live`)).status).toBe(401);
  });
});
