import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CallEvent } from '../../src/calls/events.js';
import type { WorkspaceMessage } from '../../src/handoff/workspace.js';
import { conferenceName, forkName } from '../../src/telephony/handoff-twiml.js';
import type { PersonScript, SimCall } from '../../src/testing/twilio-simulator.js';
import { CALLER, startHarness, type Harness, type HarnessOptions } from './harness.js';

/**
 * Warm transfer, assume and hand back, end to end: the real container and app,
 * the Twilio simulator with scripted people answering legs created through the
 * real `twilio` SDK against the REST fake, staff and queues through the people
 * module, presence through the workspace hub. Each outcome of docs/handoff.md.
 */
const NUMBERS = { support: '+15550100021', concierge: '+15550100022', other: '+15550100023', cold: '+15550100024' };

const supportFlow = {
  version: 1,
  name: 'Support line',
  settings: { handoffNode: 'welcome-back' },
  start: 'hello',
  nodes: [
    { id: 'hello', type: 'say', text: 'Hello from support.', next: 'xfer' },
    {
      id: 'xfer',
      type: 'transfer',
      target: { queue: 'support' },
      mode: 'warm',
      announce: 'Connecting you.',
      summary: 'A caller needs help with an order.',
      onUnavailable: 'sorry',
      ringSeconds: 20,
      maxWaitSeconds: 120,
    },
    { id: 'sorry', type: 'end', text: 'Nobody is free.' },
    { id: 'welcome-back', type: 'say', text: 'Welcome back to the assistant.', next: 'bye' },
    { id: 'bye', type: 'end', text: 'Goodbye.' },
  ],
};

const conciergeFlow = (name: string) => ({
  version: 1,
  name,
  settings: { systemPrompt: `You are the ${name}.` },
  start: 'chat',
  nodes: [
    { id: 'chat', type: 'conversation', prompt: 'Help the caller.', speakFirst: true, exits: [{ when: 'the caller is done', to: 'bye' }] },
    { id: 'bye', type: 'end', text: 'Goodbye.' },
  ],
});

let h: Harness | undefined;
let dir: string | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function setup(options: HarnessOptions = {}): Promise<Harness> {
  dir = await mkdtemp(join(tmpdir(), 'handoff-flows-'));
  await writeFile(join(dir, 'support.json'), JSON.stringify(supportFlow));
  await writeFile(join(dir, 'concierge.json'), JSON.stringify(conciergeFlow('Concierge')));
  await writeFile(join(dir, 'other.json'), JSON.stringify(conciergeFlow('Other desk')));
  // The same line, but a cold transfer: the queue's people are rung in turn and nobody is briefed.
  const cold = { ...supportFlow, name: 'Cold line', nodes: supportFlow.nodes.map((n) => (n.id === 'xfer' ? { ...n, mode: 'cold' } : n)) };
  await writeFile(join(dir, 'cold.json'), JSON.stringify(cold));
  h = await startHarness({
    ...options,
    env: {
      FLOWS_DIR: dir,
      PHONE_NUMBERS: `${NUMBERS.support}=support,${NUMBERS.concierge}=concierge,${NUMBERS.other}=other,${NUMBERS.cold}=cold`,
      ...options.env,
    },
    warm: ['support'],
  });
  return h;
}

interface Person {
  id: string;
  username: string;
  phone: string;
  pushes: WorkspaceMessage[];
}

let seq = 0;
/** An enabled person with a phone, in the queue, online (a workspace socket that beats). */
async function person(hh: Harness, script: PersonScript, options: { queue?: string; online?: boolean } = {}): Promise<Person> {
  const n = ++seq;
  const phone = `+1555010${String(7000 + n)}`;
  const staff = await hh.container.people.staff.create({ displayName: `Person ${n}`, username: `person${n}`, role: 'support', password: 'secret-pw', phone });
  if (options.queue !== undefined) {
    const q = await hh.container.people.queues.findByName(options.queue);
    if (q) await hh.container.people.queues.update(q.id, { members: [...q.members, staff.id] });
    else await hh.container.people.queues.create({ name: options.queue, members: [staff.id] });
  }
  hh.sim.setPerson(phone, script);
  const pushes: WorkspaceMessage[] = [];
  if (options.online !== false) await hh.container.people.workspace.open(staff.id, undefined, { send: (m) => pushes.push(m), close: () => undefined });
  return { id: staff.id, username: staff.username, phone, pushes };
}

const types = (events: CallEvent[]) => events.map((e) => e.type);
const statesOf = (events: CallEvent[]) => events.flatMap((e) => (e.type === 'call.state' ? [e.to] : []));
const liveSessions = async (hh: Harness, id: string) => (await hh.container.people.staff.get(id)).liveSessions;

// The file's first test also pays for the harness's first start (2 s alone, 6–13 s inside the full
// suite on a busy CI machine): a limit for slowness, not a figure under test.
describe('warm transfer to a queue', { timeout: 30_000 }, () => {
  it('accepted: the person hears the brief and presses 1; the call is theirs; leaving gives the caller back to the AI at handoffNode', async () => {
    const hh = await setup();
    const ana = await person(hh, 'accept', { queue: 'support' });
    const call = await hh.sim.placeCall({ from: CALLER, to: NUMBERS.support });
    await hh.until(async () => (await hh.record(call.callSid)).state === 'human', { what: 'the person to take the call' });
    const record = await hh.record(call.callSid);
    expect(record.handler).toEqual({ kind: 'person', staffId: ana.id });
    expect(await liveSessions(hh, ana.id)).toBe(1);
    const leg = hh.sim.legsTo(ana.phone)[0]!;
    expect(leg.says()).toEqual(['A caller needs help with an order.', 'Press 1 to take the call, 2 to pass.']);
    // The workspace offered the call to the person while their phone rang, numbers masked.
    const offer = ana.pushes.find((m) => m.type === 'transfer.offer') as { offer: Record<string, unknown> } | undefined;
    expect(offer?.offer).toMatchObject({ callSid: call.callSid, staffId: ana.id, kind: 'warm', status: 'ringing', from: '+1****1111' });
    expect(ana.pushes.some((m) => m.type === 'transfer.offer' && (m.offer as { status?: string }).status === 'accepted')).toBe(true);
    expect(ana.pushes.some((m) => m.type === 'calls' && (m.items as { id: string }[]).some((c) => c.id === call.callSid))).toBe(true);

    await hh.until(() => hh.sim.conference(conferenceName(call.callSid))?.status === 'in-progress', { what: 'the conference' });
    await hh.until(() => call.fork(forkName(call.callSid))?.state === 'open', { what: 'the audio fork' });
    await leg.hangUp();
    const done = await hh.finish(call);
    expect(types(hh.eventsOf(call.callSid))).toContain('handoff.person_left');
    expect(done.turns.filter((t) => t.role === 'agent').map((t) => t.text)).toEqual([
      'Hello from support.',
      'Connecting you.',
      'Welcome back to the assistant.',
      'Goodbye.',
    ]);
    expect(statesOf(hh.eventsOf(call.callSid))).toEqual(['ai', 'transferring', 'human', 'connecting', 'ai', 'ended']);
    expect(await liveSessions(hh, ana.id)).toBe(0);
    expect(call.fork(forkName(call.callSid))?.state).toBe('stopped');
  });

  it('declined (2), busy, no answer and machine: each once, all released, then onUnavailable', async () => {
    const hh = await setup();
    const people = [
      await person(hh, 'decline', { queue: 'support' }),
      await person(hh, 'busy', { queue: 'support' }),
      await person(hh, 'no-answer', { queue: 'support' }),
      await person(hh, 'silent', { queue: 'support' }),
    ];
    const call = await hh.sim.placeCall({ from: CALLER, to: NUMBERS.support });
    const record = await hh.finish(call, 300_000);
    const outcomes = hh.eventsOf(call.callSid).flatMap((e) => (e.type.startsWith('transfer.') && 'staffId' in e ? [[e.type, e.staffId]] : []));
    expect(outcomes.map(([t]) => t).sort()).toEqual(['transfer.declined', 'transfer.declined', 'transfer.machine', 'transfer.no_answer']);
    expect(new Set(outcomes.map(([, id]) => id))).toEqual(new Set(people.map((p) => p.id)));
    for (const p of people) expect(hh.sim.legsTo(p.phone)).toHaveLength(1);
    for (const p of people) expect(await liveSessions(hh, p.id)).toBe(0);
    expect(record.turns.map((t) => t.text)).toEqual(['Hello from support.', 'Connecting you.', 'Nobody is free.']);
  });

  it('cold to a queue: its people are rung in turn with no brief; the first who answers has the call', async () => {
    const hh = await setup();
    const first = await person(hh, 'no-answer', { queue: 'support' });
    const second = await person(hh, 'accept', { queue: 'support' });
    const call = await hh.sim.placeCall({ from: CALLER, to: NUMBERS.cold });
    await hh.until(async () => (await hh.record(call.callSid)).state === 'human', { what: 'a person to take the call', maxMs: 300_000 });
    const record = await hh.record(call.callSid);
    // The longest idle (the first person) is rung first and does not answer; the next one takes it.
    expect(record.handler).toEqual({ kind: 'person', staffId: second.id });
    expect(hh.sim.legsTo(first.phone)).toHaveLength(1);
    expect(hh.sim.legsTo(second.phone)).toHaveLength(1);
    expect(hh.sim.legsTo(second.phone)[0]!.says()).toEqual([]);
    const outcomes = hh.eventsOf(call.callSid).flatMap((e) => (e.type.startsWith('transfer.') && 'staffId' in e ? [[e.type, e.staffId]] : []));
    expect(outcomes).toEqual([
      ['transfer.no_answer', first.id],
      ['transfer.accepted', second.id],
    ]);
    expect(await liveSessions(hh, first.id)).toBe(0);
  });

  it('everyone unavailable (offline, or not in the queue): onUnavailable at once, nobody rung', async () => {
    const hh = await setup();
    const off = await person(hh, 'accept', { queue: 'support', online: false });
    const elsewhere = await person(hh, 'accept', { queue: 'billing' });
    const call = await hh.sim.placeCall({ from: CALLER, to: NUMBERS.support });
    const record = await hh.finish(call);
    expect(hh.sim.legsTo(off.phone)).toHaveLength(0);
    expect(hh.sim.legsTo(elsewhere.phone)).toHaveLength(0);
    expect(record.turns.map((t) => t.text)).toEqual(['Hello from support.', 'Connecting you.', 'Nobody is free.']);
    expect(record.resume).toBeUndefined();
  });

  it('the caller hangs up while the person rings: their leg is cancelled at once and their session given back', async () => {
    const hh = await setup();
    const bo = await person(hh, 'no-answer', { queue: 'support' });
    const call = await hh.sim.placeCall({ from: CALLER, to: NUMBERS.support });
    await hh.until(() => hh.sim.legsTo(bo.phone)[0]?.status === 'ringing', { what: 'the person to ring' });
    const at = hh.clock.now();
    await call.hangUp();
    await hh.until(() => hh.sim.legsTo(bo.phone)[0]!.ended, { what: 'the cancel' });
    expect(hh.sim.legsTo(bo.phone)[0]!.status).toBe('canceled');
    expect(hh.clock.now() - at).toBeLessThan(2000);
    expect(types(hh.eventsOf(call.callSid))).toContain('transfer.caller_hung_up');
    await hh.until(async () => (await liveSessions(hh, bo.id)) === 0, { what: 'the session to be given back' });
    expect((await hh.record(call.callSid)).state).toBe('ended');
  });
});

async function tokenOf(hh: Harness, p: Person): Promise<string> {
  const r = await hh.container.people.sessions.login(p.username, 'secret-pw', '127.0.0.1');
  if (r.kind !== 'ok') throw new Error(`login: ${r.kind}`);
  return r.token;
}

const api = (hh: Harness, token: string, url: string, payload?: object) =>
  hh.app.inject({ method: 'POST', url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, ...(payload ? { payload } : {}) });

/** The person speaks on the fork (the caller hears them): audio on the outbound track while Deepgram transcribes it. */
async function personSays(hh: Harness, call: SimCall, text: string): Promise<void> {
  const fork = call.fork(forkName(call.callSid))!;
  const before = hh.events.filter((e) => e.type === 'turn.staff').length;
  const connections = hh.dg!.connections.length;
  const silence = new Uint8Array(160).fill(0xff);
  fork.sendAudio('outbound', silence);
  await hh.until(() => hh.dg!.connections.length > connections, { what: 'the fork’s Deepgram connection' });
  hh.say(text, { connection: hh.dg!.connections.at(-1)! });
  let sent = 0;
  await hh.until(
    () => {
      for (; sent < 20; sent++) fork.sendAudio('outbound', silence);
      sent = 0;
      return hh.events.filter((e) => e.type === 'turn.staff').length > before;
    },
    { what: 'the person’s words transcribed' },
  );
}

describe('assume and hand back', () => {
  it('assume mid-sentence: clear first and no agent frame after it; the person joins; hand back carries their words to the next LLM request', async () => {
    const hh = await setup({ speech: true });
    const ana = await person(hh, 'accept');
    const token = await tokenOf(hh, ana);
    hh.openai!.enqueue(
      { text: 'Welcome to the concierge desk of the Grand Hotel. I can book tables, taxis and theatre tickets for you on any day of the week. What would you like me to do?' },
      { text: 'Your table for eight is booked. Anything else?' },
    );
    const call = await hh.sim.placeCall({ from: CALLER, to: NUMBERS.concierge });
    const sid = call.callSid;
    // Well into the reply: its first sentence played, the next one playing.
    await hh.until(() => call.marksReturned.includes('1:0'), { stepMs: 10, what: 'the agent mid-reply' });
    expect(call.marksReturned).not.toContain('1:1');

    const res = await api(hh, token, `/calls/${sid}/assume`, { reason: 'VIP guest' });
    expect(res.statusCode, res.body).toBe(202);
    // The AI's audio stopped at once: a clear, and not one media frame after it.
    const clearAt = call.received.findLastIndex((m) => m.event === 'clear');
    expect(clearAt).toBeGreaterThan(-1);
    expect(call.received.slice(clearAt + 1).filter((m) => m.event === 'media')).toEqual([]);
    // Heard text kept: the agent's turn is marked interrupted.
    expect(hh.eventsOf(sid).find((e) => e.type === 'handoff.assumed')).toMatchObject({ staffId: ana.id, reason: 'VIP guest' });
    // A second assume while the first is under way: 409.
    expect((await api(hh, token, `/calls/${sid}/assume`, {})).json().error.code).toBe('CALL_STATE_CONFLICT');

    await hh.until(async () => (await hh.record(sid)).state === 'human', { what: 'the person to join' });
    expect((await hh.record(sid)).handler).toEqual({ kind: 'person', staffId: ana.id });
    const leg = hh.sim.legsTo(ana.phone)[0]!;
    expect(leg.says()).toEqual([]);
    expect(hh.sim.conference(conferenceName(sid))!.participant(leg.callSid)).toMatchObject({ startConferenceOnEnter: true });
    await hh.until(() => call.fork(forkName(sid))?.state === 'open', { what: 'the audio fork' });

    await personSays(hh, call, 'I have booked your table for eight.');
    expect((await hh.record(sid)).turns.at(-1)).toMatchObject({ role: 'staff', text: 'I have booked your table for eight.' });

    // Only active agents: the other desk is deactivated.
    await hh.container.persistence.agents.deactivate('other', { reason: 'closed' }, 'test');
    const refused = await api(hh, token, `/calls/${sid}/transfer-to-ai`, { agentId: 'other' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('AGENT_NOT_ACTIVE');
    expect((await hh.record(sid)).state).toBe('human');

    const back = await api(hh, token, `/calls/${sid}/transfer-to-ai`, { agentId: 'concierge', reason: 'booked' });
    expect(back.statusCode, back.body).toBe(202);
    await hh.until(() => hh.openai!.requests.length >= 2, { what: 'the next LLM request' });
    const messages = hh.openai!.requests[1]!.messages as { role: string; content: string }[];
    expect(messages.map((m) => m.content).join('\n')).toContain('I have booked your table for eight.');
    await hh.until(async () => (await hh.record(sid)).state === 'ai', { what: 'the AI back on the call' });
    expect((await hh.record(sid)).handler).toMatchObject({ kind: 'ai' });
    expect(hh.eventsOf(sid).find((e) => e.type === 'handoff.to_ai')).toMatchObject({ resumes: true, by: `staff:${ana.id}`, reason: 'booked' });
    expect(await liveSessions(hh, ana.id)).toBe(0);
    await hh.until(() => hh.sim.legsTo(ana.phone)[0]!.ended, { what: 'the person’s leg let go' });
    expect(call.ended).toBe(false);
  });

  it('assume: the person does not answer; the AI takes the caller back where it stopped', async () => {
    const hh = await setup({ speech: true });
    const bo = await person(hh, 'no-answer');
    const token = await tokenOf(hh, bo);
    hh.openai!.enqueue({ text: 'Hello, this is the concierge.' }, { text: 'Sorry about that, I am still here.' });
    const call = await hh.sim.placeCall({ from: CALLER, to: NUMBERS.concierge });
    await hh.until(() => hh.eventsOf(call.callSid).some((e) => e.type === 'turn.agent'), { what: 'the greeting' });
    expect((await api(hh, token, `/calls/${call.callSid}/assume`, {})).statusCode).toBe(202);
    await hh.until(() => hh.eventsOf(call.callSid).some((e) => e.type === 'transfer.no_answer'), { what: 'no answer', maxMs: 120_000 });
    await hh.until(async () => (await hh.record(call.callSid)).state === 'ai', { what: 'the AI back' });
    expect(statesOf(hh.eventsOf(call.callSid))).toEqual(['ai', 'transferring', 'connecting', 'ai']);
    expect(await liveSessions(hh, bo.id)).toBe(0);
    expect(call.ended).toBe(false);
  });

  it('hang-up by a person: the call ends for the caller and the person on it, the session is given back; again: 409 CALL_ENDED', async () => {
    const hh = await setup({ speech: true });
    const ed = await person(hh, 'accept');
    const token = await tokenOf(hh, ed);
    hh.openai!.enqueue({ text: 'Hello, this is the concierge.' });
    const call = await hh.sim.placeCall({ from: CALLER, to: NUMBERS.concierge });
    const sid = call.callSid;
    await hh.until(() => hh.eventsOf(sid).some((e) => e.type === 'turn.agent'), { what: 'the greeting' });
    expect((await api(hh, token, `/calls/${sid}/assume`, {})).statusCode).toBe(202);
    await hh.until(async () => (await hh.record(sid)).state === 'human', { what: 'the person to join' });

    const res = await api(hh, token, `/calls/${sid}/hang-up`, { reason: 'abusive caller' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ id: sid, state: 'ended' });
    await hh.until(() => call.ended, { what: 'the caller’s leg completed' });
    await hh.until(() => hh.sim.legsTo(ed.phone)[0]!.ended, { what: 'the person’s leg let go' });
    expect(hh.eventsOf(sid).find((e) => e.type === 'call.ended')).toMatchObject({ reason: 'hung_up:abusive caller' });
    await hh.until(async () => (await liveSessions(hh, ed.id)) === 0, { what: 'the session given back' });
    const again = await api(hh, token, `/calls/${sid}/hang-up`, {});
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('CALL_ENDED');
    expect((await api(hh, token, '/calls/CA00000000000000000000000000000000/hang-up', {})).statusCode).toBe(404);
  });

  it('hang-up while the AI has the call: the AI stops and the caller is hung up', async () => {
    const hh = await setup({ speech: true });
    const fay = await person(hh, 'accept');
    const token = await tokenOf(hh, fay);
    hh.openai!.enqueue({ text: 'Hello, this is the concierge.' });
    const call = await hh.sim.placeCall({ from: CALLER, to: NUMBERS.concierge });
    await hh.until(() => hh.eventsOf(call.callSid).some((e) => e.type === 'turn.agent'), { what: 'the greeting' });
    expect((await api(hh, token, `/calls/${call.callSid}/hang-up`, {})).statusCode).toBe(200);
    await hh.until(() => call.ended, { what: 'the caller’s leg completed' });
    await hh.until(() => hh.container.telephony.sessions.size === 0, { what: 'the AI session stopped' });
    expect((await hh.record(call.callSid)).state).toBe('ended');
  });

  it('assume is refused for a call that has ended (409) and an unknown call (404); an API key must be admin and name the person', async () => {
    const hh = await setup();
    const cy = await person(hh, 'accept');
    const token = await tokenOf(hh, cy);
    expect((await api(hh, token, '/calls/CA00000000000000000000000000000000/assume', {})).statusCode).toBe(404);
    const call = await hh.sim.placeCall({ from: CALLER, to: NUMBERS.support });
    await call.hangUp();
    await hh.finish(call);
    const ended = await api(hh, token, `/calls/${call.callSid}/assume`, {});
    expect(ended.statusCode).toBe(409);
    expect(ended.json().error.code).toBe('CALL_ENDED');
  });
});
