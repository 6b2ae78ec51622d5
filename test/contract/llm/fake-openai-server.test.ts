import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OpenAiLlm } from '../../../src/providers/llm/openai.js';
import type { LlmRequest, LlmStreamEvent } from '../../../src/providers/llm/port.js';
import { fakeTokens, startFakeOpenAI, type FakeOpenAI } from '../../../src/testing/openai-server.js';

/** The fake OpenAI server itself: it enforces what the real API enforces, and its default answers are deterministic. */

let fake: FakeOpenAI;
beforeEach(async () => {
  fake = await startFakeOpenAI();
});
afterEach(async () => {
  await fake.close();
});

async function run(request: LlmRequest): Promise<LlmStreamEvent[]> {
  const llm = new OpenAiLlm({ apiKey: 'k', baseUrl: fake.url });
  const out: LlmStreamEvent[] = [];
  for await (const e of llm.stream(request)) out.push(e);
  return out;
}
const text = (events: LlmStreamEvent[]) => events.map((e) => (e.type === 'text' ? e.text : '')).join('');

describe('fake OpenAI wire rules', () => {
  const post = (body: unknown, headers: Record<string, string> = { authorization: 'Bearer k' }, path = '/chat/completions') =>
    fetch(fake.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('rejects a missing bearer token with OpenAI-shaped 401 JSON', async () => {
    const res = await post({ model: 'm', messages: [], stream: true }, {});
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_api_key', type: 'invalid_request_error' } });
  });

  it('refuses non-streaming requests', async () => {
    const res = await post({ model: 'm', messages: [] });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: 'stream' } });
  });

  it('404s unknown routes', async () => {
    const res = await post({}, undefined, '/responses');
    expect(res.status).toBe(404);
  });

  it('tells the plan about each content token as it is written, and about nothing else', async () => {
    const written: string[] = [];
    fake.enqueue({ text: 'One. Two', onContentWritten: (t) => written.push(t) });
    const res = await post({ model: 'm', messages: [], stream: true });
    await res.text();
    expect(written).toEqual(['One.', ' Two']);
  });

  it('writes chat-completions SSE framing: role chunk, deltas, finish, usage with no choices, [DONE]', async () => {
    fake.enqueue({ text: 'Hi there' });
    const res = await post({ model: 'm', messages: [], stream: true, stream_options: { include_usage: true } });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = (await res.text()).split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    interface Chunk {
      object: string;
      model: string;
      choices: { delta: { content?: string }; finish_reason: string | null }[];
    }
    const json = events.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, '')) as Chunk);
    expect(json[0]!.choices[0]?.delta).toMatchObject({ role: 'assistant', content: '' });
    expect(json.slice(1, 3).map((c) => c.choices[0]?.delta.content)).toEqual(['Hi', ' there']);
    expect(json[3]!.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    expect(json[4]).toMatchObject({ choices: [], usage: { total_tokens: expect.any(Number) } });
    expect(json[0]).toMatchObject({ object: 'chat.completion.chunk', model: 'm' });
  });

  it('sends no usage chunk unless asked', async () => {
    fake.enqueue({ text: 'Hi' });
    const res = await post({ model: 'm', messages: [], stream: true });
    expect(await res.text()).not.toContain('"usage"');
  });

  it('tokenises into words with their leading space', () => {
    expect(fakeTokens('Hello there, friend.')).toEqual(['Hello', ' there,', ' friend.']);
    expect(fakeTokens('')).toEqual([]);
  });
});

describe('fake OpenAI default responder', () => {
  const tools = [
    { name: 'transfer_to_billing', description: 'Send the caller to billing for invoices and payments', parameters: { type: 'object', properties: { reason: { type: 'string' } }, required: ['reason'] } },
    { name: 'book_appointment', description: 'Book an appointment with the doctor', parameters: { type: 'object', properties: {} } },
  ];

  it('calls the tool whose description matches what the caller said, filling required strings', async () => {
    const events = await run({ messages: [{ role: 'user', content: 'I have a question about my invoice' }], tools });
    const call = events.find((e) => e.type === 'tool_call');
    expect(call).toMatchObject({ call: { name: 'transfer_to_billing' } });
    expect(JSON.parse(call!.type === 'tool_call' ? call!.call.arguments : '')).toEqual({
      reason: 'I have a question about my invoice',
    });
  });

  it('picks another tool for other words', async () => {
    const events = await run({ messages: [{ role: 'user', content: 'Can I book an appointment?' }], tools });
    expect(events.find((e) => e.type === 'tool_call')).toMatchObject({ call: { name: 'book_appointment' } });
  });

  it('answers with a sentence echoing the topic when no tool fits', async () => {
    const events = await run({ messages: [{ role: 'user', content: 'What are your opening hours?' }], tools });
    expect(text(events)).toBe('You asked about What are your opening hours. I can help with that.');
  });

  it('greets when there is nothing from the caller yet', async () => {
    expect(text(await run({ messages: [{ role: 'system', content: 'You are a receptionist.' }] }))).toBe(
      'Hello! How can I help you today?',
    );
  });

  it('acknowledges a tool result instead of calling again', async () => {
    const events = await run({
      messages: [
        { role: 'user', content: 'invoice please' },
        { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'transfer_to_billing', arguments: '{}' }] },
        { role: 'tool', toolCallId: 'c1', content: 'ok' },
      ],
      tools,
    });
    expect(events.some((e) => e.type === 'tool_call')).toBe(false);
    expect(text(events)).toContain('Thanks');
  });

  it('json mode extracts a typed value', async () => {
    const extract = async (said: string) =>
      JSON.parse(text(await run({ messages: [{ role: 'system', content: 'JSON' }, { role: 'user', content: said }], json: true }))) as unknown;
    expect(await extract('yes please')).toEqual({ value: true });
    expect(await extract('no.')).toEqual({ value: false });
    expect(await extract('4 2 1 7')).toEqual({ value: 4217 });
    expect(await extract('three')).toEqual({ value: 3 });
    expect(await extract('Alice Smith.')).toEqual({ value: 'Alice Smith' });
    expect(await extract('')).toEqual({ value: null });
  });

  it('setResponder replaces the default and enqueue goes first', async () => {
    fake.setResponder(() => ({ text: 'from responder' }));
    fake.enqueue({ text: 'from queue' });
    expect(text(await run({ messages: [{ role: 'user', content: 'x' }] }))).toBe('from queue');
    expect(text(await run({ messages: [{ role: 'user', content: 'x' }] }))).toBe('from responder');
  });
});
