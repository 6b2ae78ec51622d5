import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { TestApp } from '../../support/app.js';
import { TEST_REDIS_URL } from './redis-test.js';
import { startProcesses, type Processes } from './two-processes.js';

/**
 * The builder's HTTP test chat behind a load balancer (real Redis): the chat
 * starts on one process and its follow-up messages land on the other, which
 * runs them on the chat's process over the control bus. Unknown, ended and
 * lost chats get the same clear 404 / 409 wherever the message lands.
 */
const flow = {
  version: 1,
  name: 'Menu',
  start: 'hello',
  nodes: [
    { id: 'hello', type: 'say', text: 'Welcome to the clinic.', next: 'menu' },
    {
      id: 'menu',
      type: 'gather',
      prompt: 'Press 1 for hours, 2 to hear it again.',
      variable: 'choice',
      input: ['dtmf'],
      digits: { min: 1, max: 1, terminator: 'none' },
      valueType: 'digits',
      next: 'route',
      onFailure: 'bye',
    },
    { id: 'route', type: 'branch', branches: [{ if: { var: 'choice', op: 'eq', value: '1' }, to: 'hours' }], else: 'menu' },
    { id: 'hours', type: 'say', text: 'We are open nine to five.', next: 'bye' },
    { id: 'bye', type: 'end', text: 'Goodbye.' },
  ],
};

let p: Processes | undefined;
afterEach(async () => {
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

const api = (t: TestApp, url: string, payload: object) =>
  t.app.inject({ method: 'POST', url: `/api/v1${url}`, headers: { authorization: `Bearer ${t.adminKey}` }, payload });

const says = (body: { replies: { type: string; text?: string }[] }) => body.replies.filter((r) => r.type === 'say').map((r) => r.text);

describe('test chat across processes', () => {
  it('started on A, every follow-up on B: the same turns as in one process, then the end', async () => {
    p = await startProcesses(2);
    const [a, b] = p.apps as [TestApp, TestApp];
    const agent = await a.container.persistence.agents.create({ name: 'Menu', flow });

    const started = await api(a, `/agents/${agent.id}/test-chat`, {});
    expect(started.statusCode, started.body).toBe(201);
    const chat = started.json();
    expect(says(chat)).toEqual(['Welcome to the clinic.', 'Press 1 for hours, 2 to hear it again.']);
    expect(chat.status).toBe('waiting');

    // B does not have the chat; it runs the message on A.
    expect(b.container.testChats).toBeDefined();
    const again = await api(b, `/test-chats/${chat.id}/messages`, { digits: '2' });
    expect(again.statusCode, again.body).toBe(200);
    expect(says(again.json())).toEqual(['Press 1 for hours, 2 to hear it again.']);
    expect(again.json().variables.choice).toBe('2');

    // Bad input refused by A keeps its code and details through B.
    const bad = await api(b, `/test-chats/${chat.id}/messages`, { text: 'hello' });
    expect(bad.statusCode, bad.body).toBe(400);
    expect(bad.json().error.details.expects).toEqual({ speech: false, dtmf: true });

    const done = await api(b, `/test-chats/${chat.id}/messages`, { digits: '1' });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json().status).toBe('ended');
    expect(done.json().result).not.toBeNull();
    expect(says(done.json())).toEqual(['We are open nine to five.', 'Goodbye.']);
    expect(done.json().transitions.map((t: { to: string }) => t.to)).toEqual(['route', 'hours', 'bye']);

    // Ended: a later message is A's 409 on either process.
    expect((await api(a, `/test-chats/${chat.id}/messages`, { digits: '1' })).statusCode).toBe(409);
    expect((await api(b, `/test-chats/${chat.id}/messages`, { digits: '1' })).statusCode).toBe(409);
  });

  it('unknown chat: 404 on every process; a chat whose process is gone: 404 too', async () => {
    p = await startProcesses(2);
    const [a, b] = p.apps as [TestApp, TestApp];
    for (const t of [a, b]) {
      const res = await api(t, '/test-chats/chat_nope/messages', { digits: '1' });
      expect(res.statusCode).toBe(404);
      expect(res.json().error.message).toMatch(/no test chat chat_nope/);
    }
    const agent = await a.container.persistence.agents.create({ name: 'Menu', flow });
    const chat = (await api(a, `/agents/${agent.id}/test-chat`, {})).json();
    // A stops listening (as a process that died would): the chat went with it.
    await a.container.liveState.control.close();
    const lost = await api(b, `/test-chats/${chat.id}/messages`, { digits: '1' });
    expect(lost.statusCode, lost.body).toBe(404);
    expect(lost.json().error.message).toMatch(/may have expired/);
  });
});
