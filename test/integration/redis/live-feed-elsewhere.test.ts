import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { CallEventInput } from '../../../src/calls/events.js';
import type { TestApp } from '../../support/app.js';
import { TEST_REDIS_URL } from './redis-test.js';
import { Redis } from 'ioredis';
import { eventually, startProcesses, type Processes } from './two-processes.js';

/**
 * `WS /api/v1/calls/:id/live` on one process while the call lives on another
 * (real Redis): the viewer gets the events so far, `caught_up`, then each new
 * event once, and the socket closes after `call.ended`. A process started
 * after the call began takes its backlog from the holder's feed.
 */
let p: Processes | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  const prefix = p?.prefix;
  await p?.close();
  p = undefined;
  if (prefix) {
    const r = new Redis(TEST_REDIS_URL);
    try {
      expect(await r.keys(`${prefix}*`)).toEqual([]);
    } finally {
      r.disconnect();
    }
  }
});

type Message = { type: 'event'; event: { type: string; [k: string]: unknown } } | { type: 'caught_up'; ended: boolean };

interface Viewer {
  messages: Message[];
  closedWith(): number | undefined;
}

async function watch(app: TestApp, callSid: string): Promise<Viewer> {
  if (!app.app.server.listening) await app.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.app.server.address() as AddressInfo).port;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/calls/${callSid}/live?token=${encodeURIComponent(app.adminKey)}`);
  sockets.push(ws);
  const messages: Message[] = [];
  let code: number | undefined;
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Message));
  ws.on('close', (c) => (code = c));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { messages, closedWith: () => code };
}

const CALL = 'CA' + '7'.repeat(32);

async function openCall(app: TestApp, callSid = CALL) {
  await app.container.telephony.calls.open({
    callSid,
    accountSid: 'AC' + '1'.repeat(32),
    agentId: 'ag_elsewhere',
    slug: 'elsewhere',
    version: 1,
    from: '+15550001111',
    to: '+15550100001',
    direction: 'inbound',
  });
}

const emit = (app: TestApp, e: CallEventInput) => app.container.telephony.calls.emit(e);
const types = (v: Viewer) => v.messages.map((m) => (m.type === 'event' ? m.event.type : `caught_up:${m.ended}`));

describe('live feed of a call held by another process', () => {
  it('viewer on A, events on B: the backlog, caught_up, each new event once, closed after call.ended', async () => {
    p = await startProcesses(2);
    const [a, b] = p.apps as [TestApp, TestApp];
    await openCall(b);
    emit(b, { type: 'node.entered', callSid: CALL, nodeId: 'hello', nodeType: 'say' });
    emit(b, { type: 'turn.agent', callSid: CALL, text: 'Hello.', heardText: 'Hello.', outcome: 'played', cached: true, nodeId: 'hello' });
    expect(await a.container.telephony.calls.holders.holderOf(CALL)).toBe(b.container.liveState.processId);

    const viewer = await watch(a, CALL);
    await eventually(() => viewer.messages.some((m) => m.type === 'caught_up'), 'caught_up');
    expect(types(viewer)).toEqual(['call.started', 'node.entered', 'turn.agent', 'caught_up:false']);

    emit(b, { type: 'turn.caller', callSid: CALL, text: 'Hi there.', via: 'speech' });
    emit(b, { type: 'dtmf', callSid: CALL, digit: '5' });
    await eventually(() => types(viewer).includes('dtmf'), 'the new events');
    await b.container.telephony.calls.end(CALL, 'status:completed', 'completed');
    await eventually(() => viewer.closedWith() !== undefined, 'the socket to close');
    expect(types(viewer)).toEqual([
      'call.started',
      'node.entered',
      'turn.agent',
      'caught_up:false',
      'turn.caller',
      'dtmf',
      'call.state',
      'call.ended',
    ]);
    expect(viewer.closedWith()).toBe(1000);
  });

  it('a process started after the call began: its backlog comes from the holder’s feed, then live, nothing repeated', async () => {
    p = await startProcesses(1);
    const b = p.apps[0]!;
    await openCall(b);
    emit(b, { type: 'node.entered', callSid: CALL, nodeId: 'hello', nodeType: 'say' });
    emit(b, { type: 'barge_in', callSid: CALL, heardText: 'Hel', reason: 'speech' });
    // C heard none of it.
    const c = await p.start();
    expect(c.container.callFeed.subscribe(CALL, () => undefined)).toBeUndefined();

    const viewer = await watch(c, CALL);
    await eventually(() => viewer.messages.some((m) => m.type === 'caught_up'), 'caught_up');
    expect(types(viewer)).toEqual(['call.started', 'node.entered', 'barge_in', 'caught_up:false']);
    // C's feed is whole now: a second viewer there is served from memory at once.
    expect(c.container.callFeed.backlogOf(CALL)?.events.map((e) => e.type)).toEqual(['call.started', 'node.entered', 'barge_in']);

    emit(b, { type: 'silence.reprompt', callSid: CALL });
    await eventually(() => types(viewer).includes('silence.reprompt'), 'the new event');
    const second = await watch(c, CALL);
    await eventually(() => second.messages.some((m) => m.type === 'caught_up'), 'caught_up for the second viewer');
    expect(types(second)).toEqual(['call.started', 'node.entered', 'barge_in', 'silence.reprompt', 'caught_up:false']);

    await b.container.telephony.calls.end(CALL, 'status:completed', 'completed');
    await eventually(() => viewer.closedWith() !== undefined && second.closedWith() !== undefined, 'both sockets to close');
    expect(types(viewer)).toEqual(['call.started', 'node.entered', 'barge_in', 'caught_up:false', 'silence.reprompt', 'call.state', 'call.ended']);
  });

  it('the holder gone: the backlog comes from history', async () => {
    p = await startProcesses(1);
    const b = p.apps[0]!;
    await openCall(b);
    emit(b, { type: 'node.entered', callSid: CALL, nodeId: 'hello', nodeType: 'say' });
    await b.container.callRecorder.flush();
    const c = await p.start();
    // The holder stops listening (its control channel closes) while the call's record stays live.
    await b.container.liveState.control.close();
    const viewer = await watch(c, CALL);
    await eventually(() => viewer.messages.some((m) => m.type === 'caught_up'), 'caught_up');
    expect(types(viewer)).toEqual(['call.started', 'node.entered', 'caught_up:false']);
  });

  it('workspace socket on A: the calls list follows a call on B; a transfer offer made on B reaches the person, masked, then its outcome', async () => {
    p = await startProcesses(2);
    const [a, b] = p.apps as [TestApp, TestApp];
    const person = await a.container.people.staff.create({ displayName: 'Ana', username: 'ana', role: 'support', password: 'secret-pw', showRealPhoneNumbers: false });
    const login = await a.container.people.sessions.login('ana', 'secret-pw', '127.0.0.1');
    if (login.kind !== 'ok') throw new Error(`login: ${login.kind}`);
    if (!a.app.server.listening) await a.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (a.app.server.address() as AddressInfo).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/workspace?token=${encodeURIComponent(login.token)}`);
    sockets.push(ws);
    const got: { type: string; items?: { id: string; from: string }[]; offer?: Record<string, unknown> }[] = [];
    ws.on('message', (data) => got.push(JSON.parse(String(data)) as (typeof got)[number]));
    await eventually(() => got.some((m) => m.type === 'calls'), 'the first calls list');

    await openCall(b);
    await eventually(() => got.some((m) => m.type === 'calls' && m.items?.some((c) => c.id === CALL)), 'the call from B in the list');
    expect(got.filter((m) => m.type === 'calls').at(-1)!.items!.find((c) => c.id === CALL)!.from).toBe('+1****1111');

    b.container.handoff.workspaceFeed.offer({ callSid: CALL, staffId: person.id, kind: 'warm', from: '+15550001111', to: '+15550100001', brief: 'A caller wants a person.' });
    await eventually(() => got.some((m) => m.type === 'transfer.offer'), 'the offer');
    expect(got.find((m) => m.type === 'transfer.offer')!.offer).toMatchObject({ callSid: CALL, staffId: person.id, status: 'ringing', from: '+1****1111' });
    emit(b, { type: 'transfer.accepted', callSid: CALL, staffId: person.id, attempt: 1 });
    await eventually(() => got.some((m) => m.type === 'transfer.offer' && m.offer?.status === 'accepted'), 'the offer’s outcome');
    // Each once: the offer and its outcome, not again through Redis.
    expect(got.filter((m) => m.type === 'transfer.offer').map((m) => m.offer!.status)).toEqual(['ringing', 'accepted']);
    await b.container.telephony.calls.end(CALL, 'status:completed', 'completed');
  });
});
