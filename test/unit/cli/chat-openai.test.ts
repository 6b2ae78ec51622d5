import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChat } from '../../../src/cli/chat.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../../src/testing/openai-server.js';
import { makeFlow } from '../flow/harness.js';

/** The chat with OPENAI_API_KEY set uses the real OpenAI adapter, here against the loopback fake. */
let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI();
});

afterAll(async () => {
  await fake.close();
});

describe('text chat with the OpenAI adapter', () => {
  it('streams replies, runs an http tool round and takes an exit, all through the real SDK', async () => {
    const flow = makeFlow(
      [
        {
          id: 'talk',
          type: 'conversation',
          prompt: 'Help with orders.',
          speakFirst: true,
          tools: [{ name: 'order_status', description: 'Look up an order', url: 'http://127.0.0.1:9/orders', save: { state: 'state' } }],
          exits: [{ when: 'the caller is done', to: 'bye' }],
        },
        { id: 'bye', type: 'end', text: 'Bye, your order is {{state}}.' },
      ],
      { systemPrompt: 'You are a shop assistant.' },
    );
    fake.enqueue(
      { text: 'Hi! How can I help?' },
      { toolCalls: [{ name: 'order_status', arguments: {} }] },
      { text: 'It is on its way.' },
      { toolCalls: [{ name: 'exit_bye', arguments: { reason: 'done' } }] },
    );
    const input = new PassThrough();
    input.end('where is my order?\nthanks, that is all\n');
    let out = '';
    const output = new Writable({
      write(chunk: Buffer, _e, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const http = async () => new Response('{"state":"shipped"}', { status: 200 });
    const result = await runChat({ flow, slug: 'shop', input, output, env: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url }, http });
    expect(result.outcome).toBe('completed');
    expect(out).toContain('Agent: Hi! How can I help?');
    expect(out).toContain('Agent: It is on its way.');
    expect(out).toContain('Agent: Bye, your order is shipped.');
    expect(fake.requests).toHaveLength(4);
    const third = fake.requests[2]!.messages as { role: string; content?: string | null; tool_call_id?: string }[];
    expect(third.map((m) => m.role)).toEqual(['system', 'assistant', 'user', 'assistant', 'tool']);
    expect(third.at(-1)!.content).toBe('{"status":200,"data":{"state":"shipped"}}');
  });
});
