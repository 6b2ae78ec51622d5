import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../../src/testing/openai-server.js';
import { MAX_STEPS_WITHOUT_INPUT } from '../../../src/flow/budget.js';
import { bearer } from './fixtures.js';

/**
 * Invariant: the HTTP test chat runs the real interpreter over the port, on the
 * draft by default or a chosen version, and each message returns exactly the
 * replies and node transitions of that turn.
 */
const menuFlow = (greeting = 'Welcome to the clinic.') => ({
  version: 1,
  name: 'Menu',
  settings: { systemPrompt: 'You are the clinic assistant.' },
  start: 'hello',
  nodes: [
    { id: 'hello', type: 'say', text: greeting, next: 'menu' },
    {
      id: 'menu',
      type: 'gather',
      prompt: 'Press 1 for hours, 2 for a person, 3 to chat.',
      variable: 'choice',
      input: ['dtmf'],
      digits: { min: 1, max: 1, terminator: 'none' },
      valueType: 'digits',
      next: 'route',
      onFailure: 'bye',
    },
    {
      id: 'route',
      type: 'branch',
      branches: [
        { if: { var: 'choice', op: 'eq', value: '1' }, to: 'hours' },
        { if: { var: 'choice', op: 'eq', value: '3' }, to: 'chat' },
      ],
      else: 'person',
    },
    { id: 'hours', type: 'say', text: 'We are open nine to five.', next: 'bye' },
    { id: 'chat', type: 'conversation', prompt: 'Answer questions briefly.', exits: [{ when: 'the caller is done', to: 'bye' }], onMaxTurns: 'bye', maxTurns: 3 },
    { id: 'person', type: 'transfer', target: { queue: 'front' }, mode: 'cold', announce: 'Connecting you now.', onUnavailable: 'bye' },
    { id: 'bye', type: 'end', text: 'Goodbye.' },
  ],
});

let t: TestApp;
let openai: FakeOpenAI;
let agentId: string;

const api = (method: string, url: string, payload?: unknown, key = t.adminKey) =>
  t.app.inject({ method: method as 'POST', url: `/api/v1${url}`, headers: bearer(key), ...(payload !== undefined ? { payload: payload as object } : {}) });

beforeAll(async () => {
  openai = await startFakeOpenAI();
  t = await buildTestApp({ env: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url } });
  const created = (await api('POST', '/agents', { name: 'Menu', flow: menuFlow('Version one greeting.') })).json();
  agentId = created.id;
  await api('POST', `/agents/${agentId}/publish`, { note: 'v1' });
  await api('PUT', `/agents/${agentId}/draft`, { flow: menuFlow('Draft greeting.'), baseRevision: 1 });
});
afterAll(async () => {
  await t.close();
  await openai.close();
});

describe('HTTP test chat', () => {
  it('starts on the draft and replies until the agent waits for input', async () => {
    const res = await api('POST', `/agents/${agentId}/test-chat`, {});
    expect(res.statusCode).toBe(201);
    const s = res.json();
    expect(s).toMatchObject({
      id: expect.stringMatching(/^chat_/),
      agentId,
      version: null,
      status: 'waiting',
      expects: { speech: false, dtmf: true },
      replies: [
        { type: 'say', text: 'Draft greeting.', nodeId: 'hello' },
        { type: 'say', text: 'Press 1 for hours, 2 for a person, 3 to chat.', nodeId: 'menu' },
      ],
    });
    expect(s.transitions.map((x: { to: string }) => x.to)).toEqual(['hello', 'menu']);

    const turn = await api('POST', `/test-chats/${s.id}/messages`, { digits: '1' });
    expect(turn.statusCode).toBe(200);
    expect(turn.json()).toMatchObject({
      status: 'ended',
      variables: { choice: '1' },
      replies: [
        { type: 'say', text: 'We are open nine to five.', nodeId: 'hours' },
        { type: 'say', text: 'Goodbye.', nodeId: 'bye' },
        expect.objectContaining({ type: 'hangup' }),
      ],
      result: { outcome: 'completed' },
    });
    expect(turn.json().transitions).toEqual([
      { from: 'menu', to: 'route', nodeType: 'branch' },
      { from: 'route', to: 'hours', nodeType: 'say' },
      { from: 'hours', to: 'bye', nodeType: 'end' },
    ]);
    const after = await api('POST', `/test-chats/${s.id}/messages`, { digits: '1' });
    expect(after.statusCode).toBe(409);
  });

  it('runs a chosen published version; digits typed as text count as key presses; a transfer shows its target', async () => {
    const s = (await api('POST', `/agents/${agentId}/test-chat`, { version: 1 })).json();
    expect(s.version).toBe(1);
    expect(s.replies[0]).toMatchObject({ text: 'Version one greeting.' });
    const wrongKind = await api('POST', `/test-chats/${s.id}/messages`, { text: 'hello there' });
    expect(wrongKind.statusCode).toBe(400);
    expect(wrongKind.json().error.details).toEqual({ expects: { speech: false, dtmf: true } });
    const turn = (await api('POST', `/test-chats/${s.id}/messages`, { text: '2' })).json();
    expect(turn.replies).toEqual([
      { type: 'say', text: 'Connecting you now.', nodeId: 'person' },
      { type: 'transfer', nodeId: 'person', target: { queue: 'front' }, mode: 'cold' },
    ]);
    expect(turn.result).toMatchObject({ outcome: 'transferred' });
  });

  it('talks to the LLM in a conversation node through the configured OpenAI endpoint', async () => {
    openai.enqueue({ text: 'We take most insurance plans.' });
    const s = (await api('POST', `/agents/${agentId}/test-chat`, {})).json();
    const into = (await api('POST', `/test-chats/${s.id}/messages`, { digits: '3' })).json();
    expect(into).toMatchObject({ status: 'waiting', expects: { speech: true } });
    expect(into.transitions.map((x: { to: string }) => x.to)).toEqual(['route', 'chat']);
    const answer = (await api('POST', `/test-chats/${s.id}/messages`, { text: 'Do you take insurance?' })).json();
    expect(answer.replies).toEqual([{ type: 'say', text: 'We take most insurance plans.', nodeId: 'chat' }]);
    const sent = JSON.stringify(openai.requests[openai.requests.length - 1]);
    expect(sent).toContain('Do you take insurance?');
    expect(sent).toContain('You are the clinic assistant.');
  });

  it('refuses an invalid draft with the findings, an unknown version or session, and bad input', async () => {
    const broken = (await api('POST', '/agents', { name: 'Broken chat', flow: { ...menuFlow(), start: 'nowhere' } })).json();
    const res = await api('POST', `/agents/${broken.id}/test-chat`, {});
    expect(res.statusCode).toBe(422);
    expect(res.json().error.details.errors[0]).toMatchObject({ code: 'UNKNOWN_START' });
    expect((await api('POST', `/agents/${agentId}/test-chat`, { version: 9 })).statusCode).toBe(404);
    expect((await api('POST', '/test-chats/chat_nope/messages', { text: 'hi' })).statusCode).toBe(404);
    const s = (await api('POST', `/agents/${agentId}/test-chat`, {})).json();
    expect((await api('POST', `/test-chats/${s.id}/messages`, { digits: 'abc' })).statusCode).toBe(400);
    expect((await api('POST', `/test-chats/${s.id}/messages`, { text: 'a', digits: '1' })).statusCode).toBe(400);
  });

  it('a cycle that never listens is refused (LOOP_WITHOUT_INPUT); a long flow without input ends with the fallback and the server keeps answering', async () => {
    const cycle = {
      version: 1,
      name: 'Cycle',
      start: 'a',
      nodes: [
        { id: 'a', type: 'say', text: 'Hello again.', next: 'b' },
        { id: 'b', type: 'branch', branches: [{ if: { var: 'x', op: 'exists' }, to: 'e' }], else: 'a' },
        { id: 'e', type: 'end' },
      ],
    };
    const looping = (await api('POST', '/agents', { name: 'Cycle chat', flow: cycle })).json();
    const refused = await api('POST', `/agents/${looping.id}/test-chat`, {});
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.details.errors).toEqual([expect.objectContaining({ code: 'LOOP_WITHOUT_INPUT', nodeId: 'a' })]);

    // No cycle, but more steps than the per-call budget allows without the caller.
    const n = MAX_STEPS_WITHOUT_INPUT + 5;
    const chain = {
      version: 1,
      name: 'Chain',
      settings: { fallbackMessage: 'Sorry, goodbye.' },
      start: 's0',
      nodes: [
        ...Array.from({ length: n }, (_, i) => ({ id: `s${i}`, type: 'say', text: `Line ${i}.`, next: i + 1 < n ? `s${i + 1}` : 'e' })),
        { id: 'e', type: 'end' },
      ],
    };
    const long = (await api('POST', '/agents', { name: 'Chain chat', flow: chain })).json();
    const res = await api('POST', `/agents/${long.id}/test-chat`, {});
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ status: 'ended', result: { outcome: 'failed', reason: 'loop' } });
    expect(res.json().replies.slice(-2)).toEqual([expect.objectContaining({ type: 'say', text: 'Sorry, goodbye.' }), { type: 'hangup', reason: 'fallback' }]);
    expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('an http node cannot read an internal service back through the test chat (no HTTP_ALLOW_HOSTS)', async () => {
    const hits: string[] = [];
    const secret = http.createServer((req, res) => {
      hits.push(req.url!);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"secret":"s3cr3t"}');
    });
    await new Promise<void>((r) => secret.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(secret.address() as AddressInfo).port}/secret`;
      const flow = {
        version: 1,
        name: 'Peek',
        start: 'h',
        nodes: [
          { id: 'h', type: 'http', url, save: { s: 'secret' }, next: 'tell', onError: 'refused' },
          { id: 'tell', type: 'end', text: 'The secret is {{s}}.' },
          { id: 'refused', type: 'end', text: 'Refused.' },
        ],
      };
      const agent = (await api('POST', '/agents', { name: 'Peek', flow })).json();
      const res = await api('POST', `/agents/${agent.id}/test-chat`, {});
      expect(res.json().replies).toEqual([expect.objectContaining({ type: 'say', text: 'Refused.' }), expect.anything()]);
      expect(hits).toEqual([]);
    } finally {
      await new Promise<void>((r) => secret.close(() => r()));
    }
  });
});
