import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newCallRecord } from '../../../src/calls/call-record.js';
import type { CallEventInput } from '../../../src/calls/events.js';
import { PassThrough } from 'node:stream';
import { replayMain } from '../../../src/cli/replay.js';
import { recordingOf, replayCall } from '../../../src/flow-tests/replay.js';
import { flowSchema } from '../../../src/flow/schema.js';
import { ScriptedLlm } from '../../../src/providers/llm/fake.js';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { bearer } from './fixtures.js';

/**
 * Invariants: replaying recorded calls against a changed draft reports, per
 * call, the same path, or where the paths part (the recorded and the replayed
 * node), or why it could not run; recorded model replies are reused only in
 * unchanged nodes, so a changed conversation needs mode live.
 */
const flow = (salesKey = '1', chatPrompt = 'Answer briefly.') => ({
  version: 1,
  name: 'Line',
  settings: { systemPrompt: 'You are the line.' },
  start: 'hello',
  nodes: [
    { id: 'hello', type: 'say', text: 'Welcome.', next: 'menu' },
    { id: 'menu', type: 'gather', prompt: 'Press 1 for sales, 3 to talk.', variable: 'choice', input: ['dtmf'], valueType: 'digits', digits: { min: 1, max: 1, terminator: 'none' }, next: 'route', onFailure: 'bye' },
    {
      id: 'route',
      type: 'branch',
      branches: [
        { if: { var: 'choice', op: 'eq', value: salesKey }, to: 'sales' },
        { if: { var: 'choice', op: 'eq', value: '3' }, to: 'chat' },
      ],
      else: 'bye',
    },
    { id: 'chat', type: 'conversation', prompt: chatPrompt, speakFirst: true, exits: [{ name: 'done', when: 'the caller is done', to: 'bye' }] },
    { id: 'sales', type: 'transfer', target: { queue: 'sales' }, mode: 'cold', onUnavailable: 'bye' },
    { id: 'bye', type: 'end', text: 'Goodbye.' },
  ],
});

type Ev = CallEventInput extends infer T ? (T extends { callSid: string } ? Omit<T, 'callSid'> : never) : never;
const node = (nodeId: string): Ev => ({ type: 'node.entered', nodeId });
const agentSaid = (text: string, nodeId: string): Ev => ({ type: 'turn.agent', text, heardText: text, outcome: 'played', cached: false, nodeId });
const callerSaid = (text: string, via: 'speech' | 'dtmf' = 'speech'): Ev => ({ type: 'turn.caller', text, via });

const SALES_CALL: Ev[] = [node('hello'), agentSaid('Welcome.', 'hello'), node('menu'), agentSaid('Press 1 for sales, 3 to talk.', 'menu'), callerSaid('1', 'dtmf'), node('route'), node('sales')];
const CHAT_CALL: Ev[] = [
  node('hello'),
  node('menu'),
  callerSaid('3', 'dtmf'),
  node('route'),
  node('chat'),
  agentSaid('How can I help?', 'chat'),
  callerSaid('When are you open?'),
  agentSaid('Nine to five.', 'chat'),
  callerSaid('Thanks, bye.'),
  agentSaid('Bye now.', 'chat'),
  node('bye'),
  agentSaid('Goodbye.', 'bye'),
];

let t: TestApp;
let agent: { id: string; slug: string; draft: { revision: number } };
let seq = 0;
const api = (method: 'POST' | 'PUT' | 'GET', url: string, payload?: unknown) =>
  t.app.inject({ method, url: `/api/v1${url}`, headers: bearer(t.adminKey), ...(payload !== undefined ? { payload: payload as object } : {}) });

async function record(events: Ev[], agentId = agent.id): Promise<string> {
  const callSid = `CA${String(++seq).padStart(32, '0')}`;
  const now = Date.now() + seq;
  const rec = newCallRecord({ callSid, accountSid: 'AC1', agentId, slug: 'line', version: 1, from: '+15550001111', to: '+15550002222', direction: 'inbound', nowMs: now });
  await t.container.callHistory.save({ ...rec, state: 'ended', endedAt: now });
  await t.container.callHistory.appendEvents(events.map((e, i) => ({ ...e, callSid, at: now + i }) as never));
  return callSid;
}

async function saveDraft(f: unknown) {
  const current = (await api('GET', `/agents/${agent.id}`)).json() as { draft: { revision: number } };
  expect((await api('PUT', `/agents/${agent.id}/draft`, { flow: f, baseRevision: current.draft.revision })).statusCode).toBe(200);
}

beforeAll(async () => {
  t = await buildTestApp();
  agent = (await api('POST', '/agents', { name: 'Line', flow: flow() })).json();
  expect((await api('POST', `/agents/${agent.id}/publish`, {})).statusCode).toBe(201);
});
afterAll(async () => t.close());

describe('POST /agents/:id/replay', () => {
  it('against a changed draft: the sales call parts at route (sales → bye); the chat call reuses its recorded replies and keeps its path', async () => {
    const sales = await record(SALES_CALL);
    const chat = await record(CHAT_CALL);
    await saveDraft(flow('2'));
    const res = await api('POST', `/agents/${agent.slug}/replay`, { callIds: [sales, chat], draft: true, mode: 'paths' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ target: { version: null }, mode: 'paths', summary: { total: 2, same: 1, different: 1, failed: 0 } });
    expect(body.calls[0]).toMatchObject({
      callSid: sales,
      status: 'different',
      step: 3,
      recordedNode: 'sales',
      replayedNode: 'bye',
      recordedPath: ['hello', 'menu', 'route', 'sales'],
      path: ['hello', 'menu', 'route', 'bye'],
    });
    expect(body.calls[1]).toMatchObject({ callSid: chat, status: 'same', path: ['hello', 'menu', 'route', 'chat', 'bye'] });

    // The published version takes both calls the way they went.
    const v1 = await api('POST', `/agents/${agent.id}/replay`, { callIds: [sales, chat], version: 1 });
    expect(v1.json().summary).toEqual({ total: 2, same: 2, different: 0, failed: 0 });
  });

  it('last N ended calls; a changed conversation needs the model in paths mode (failed, needs_llm at the node)', async () => {
    await record(CHAT_CALL);
    await saveDraft(flow('1', 'Answer in one word.'));
    const res = await api('POST', `/agents/${agent.id}/replay`, { last: 1, draft: true });
    expect(res.statusCode).toBe(200);
    expect(res.json().calls[0]).toMatchObject({ status: 'failed', reason: 'needs_llm', nodeId: 'chat' });
    const live = await api('POST', `/agents/${agent.id}/replay`, { last: 1, draft: true, mode: 'live' });
    expect(live.statusCode).toBe(503);
    expect(live.json().error.code).toBe('NOT_CONFIGURED');
  });

  it('errors: neither or both of callIds and last 400; a call of another agent is failed, not revealed', async () => {
    expect((await api('POST', `/agents/${agent.id}/replay`, { draft: true })).statusCode).toBe(400);
    expect((await api('POST', `/agents/${agent.id}/replay`, { callIds: ['CA1'], last: 3 })).statusCode).toBe(400);
    expect((await api('POST', `/agents/${agent.id}/replay`, { last: 3, version: 1, draft: true })).statusCode).toBe(400);
    const other = await record(SALES_CALL, 'ag_other');
    const res = await api('POST', `/agents/${agent.id}/replay`, { callIds: [other], version: 1 });
    expect(res.json().calls[0]).toMatchObject({ status: 'failed', reason: `no call ${other} of agent ${agent.slug}` });
  });
});

describe('replayCall in live mode', () => {
  it('the configured model answers in changed nodes', async () => {
    const before = flowSchema.parse(flow());
    const after = flowSchema.parse(flow('1', 'Answer in one word.'));
    const recording = recordingOf('CA1', 'ag', 1, CHAT_CALL.map((e, i) => ({ ...e, callSid: 'CA1', at: i }) as never), undefined);
    const llm = new ScriptedLlm([{ text: 'Hi.' }, { text: 'Nine.' }, { text: 'Bye.', toolCalls: [{ name: 'done' }] }]);
    expect(await replayCall(recording, before, after, 'live', llm)).toMatchObject({ status: 'same' });
    expect(await replayCall(recording, before, after, 'paths')).toMatchObject({ status: 'failed', reason: 'needs_llm', nodeId: 'chat' });
  });
});

describe('npm run replay', () => {
  it('replays the last calls from the local database, prints where paths part, exits 1; usage errors exit 2', async () => {
    await record(SALES_CALL);
    await saveDraft(flow('2'));
    const output = new PassThrough();
    let out = '';
    output.on('data', (d: Buffer) => (out += d.toString()));
    const io = { output, error: new PassThrough(), env: { DATABASE_URL: t.databaseUrl } };
    expect(await replayMain(['--agent', agent.slug, '--last', '1', '--draft'], io)).toBe(1);
    expect(out).toContain(`replay of 1 call(s) of ${agent.slug} against the draft (paths)`);
    expect(out).toContain('parts at step 4: recorded sales, now bye');
    expect(out).toContain('0 same, 1 different, 0 failed');
    expect(await replayMain(['--agent', agent.slug, '--last', '1', '--version', '1'], io)).toBe(0);
    expect(await replayMain(['--agent', agent.slug, '--last', '1'], io)).toBe(2);
    expect(await replayMain(['--agent', agent.slug, '--draft', '--last', '0'], io)).toBe(2);
    expect(await replayMain(['--bogus'], io)).toBe(2);
  });
});
