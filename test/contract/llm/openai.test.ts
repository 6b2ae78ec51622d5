import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { createProviders } from '../../../src/container.js';
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { OpenAiLlm, type OpenAiLlmOptions } from '../../../src/providers/llm/openai.js';
import type { LlmRequest, LlmStreamEvent } from '../../../src/providers/llm/port.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../../src/testing/openai-server.js';
import { ProviderError } from '../../../src/providers/errors.js';

/**
 * The OpenAI adapter through the real `openai` SDK against the loopback fake.
 * Invariants: text streams as it arrives, tool calls come whole, nothing spoken
 * is ever repeated by a retry, our own timeouts fire, and an abort is quiet.
 */

let fake: FakeOpenAI;
const KEY = 'sk-test-key';

beforeEach(async () => {
  fake = await startFakeOpenAI({ apiKey: KEY });
});
afterEach(async () => {
  await fake.close();
});

function llm(overrides: Partial<OpenAiLlmOptions> = {}): OpenAiLlm {
  return new OpenAiLlm({
    apiKey: KEY,
    baseUrl: fake.url,
    model: 'gpt-test',
    firstTokenTimeoutMs: 2_000,
    chunkTimeoutMs: 1_000,
    backoffMs: 10,
    random: () => 0.5,
    ...overrides,
  });
}

const hello: LlmRequest = { messages: [{ role: 'user', content: 'hello' }] };

async function collect(stream: AsyncIterable<LlmStreamEvent>): Promise<LlmStreamEvent[]> {
  const out: LlmStreamEvent[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

async function failure(stream: AsyncIterable<LlmStreamEvent>, seen: LlmStreamEvent[] = []): Promise<ProviderError> {
  try {
    for await (const e of stream) seen.push(e);
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error('expected the stream to fail');
}

const textOf = (events: LlmStreamEvent[]) =>
  events.map((e) => (e.type === 'text' ? e.text : '')).join('');

describe('OpenAiLlm streaming', () => {
  it('yields text deltas in order, then done with usage', async () => {
    fake.enqueue({ text: 'Hello there, how can I help?', usage: { prompt_tokens: 9, completion_tokens: 6 } });
    const events = await collect(llm().stream(hello));
    const texts = events.filter((e) => e.type === 'text');
    expect(texts.length).toBeGreaterThan(1); // streamed, not buffered
    expect(textOf(events)).toBe('Hello there, how can I help?');
    expect(events.at(-1)).toEqual({ type: 'done', finishReason: 'stop', usage: { promptTokens: 9, completionTokens: 6 } });
  });

  it('sends model, mapped messages, tools, temperature and stream_options', async () => {
    fake.enqueue({ text: 'ok' });
    await collect(
      llm().stream({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Book me in' },
          { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'lookup', arguments: '{"day":"mon"}' }] },
          { role: 'tool', toolCallId: 'call_1', content: '{"free":true}' },
          { role: 'assistant', content: 'Monday is free.' },
        ],
        tools: [{ name: 'lookup', description: 'Look up slots', parameters: { type: 'object', properties: {} } }],
        temperature: 0.2,
      }),
    );
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({
      model: 'gpt-test',
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Book me in' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"day":"mon"}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"free":true}' },
        { role: 'assistant', content: 'Monday is free.' },
      ],
      tools: [
        {
          type: 'function',
          function: { name: 'lookup', description: 'Look up slots', parameters: { type: 'object', properties: {} } },
        },
      ],
    });
    expect(fake.requests[0]).not.toHaveProperty('response_format');
  });

  it('a per-request model overrides the default', async () => {
    fake.enqueue({ text: 'ok' });
    await collect(llm().stream({ ...hello, model: 'gpt-other' }));
    expect(fake.requests[0]?.model).toBe('gpt-other');
  });

  it('json mode asks for a JSON object and returns it as text', async () => {
    const events = await collect(
      llm().stream({
        messages: [
          { role: 'system', content: 'Extract the number as JSON {"value": …}.' },
          { role: 'user', content: 'It is 42.' },
        ],
        json: true,
      }),
    );
    expect(fake.requests[0]?.response_format).toEqual({ type: 'json_object' });
    expect(JSON.parse(textOf(events))).toEqual({ value: 42 });
  });
});

describe('OpenAiLlm tool calls', () => {
  it('assembles a call from argument deltas split across chunks and yields it whole', async () => {
    fake.enqueue({ toolCalls: [{ name: 'transfer_call', arguments: { reason: 'billing question', priority: 2 } }] });
    const events = await collect(llm().stream(hello));
    const calls = events.filter((e) => e.type === 'tool_call');
    expect(calls).toHaveLength(1);
    const call = calls[0]!.type === 'tool_call' ? calls[0]!.call : undefined;
    expect(call?.name).toBe('transfer_call');
    expect(call?.id).toMatch(/^call_/);
    expect(JSON.parse(call!.arguments)).toEqual({ reason: 'billing question', priority: 2 });
    expect(events.filter((e) => e.type === 'text')).toHaveLength(0);
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'tool_calls' });
  });

  it('keeps two parallel calls apart, in index order', async () => {
    fake.enqueue({
      toolCalls: [
        { name: 'get_weather', arguments: { city: 'Paris' }, id: 'call_a' },
        { name: 'get_time', arguments: { zone: 'Europe/Paris' }, id: 'call_b' },
      ],
    });
    const events = await collect(llm().stream(hello));
    const calls = events.flatMap((e) => (e.type === 'tool_call' ? [e.call] : []));
    expect(calls).toEqual([
      { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { id: 'call_b', name: 'get_time', arguments: '{"zone":"Europe/Paris"}' },
    ]);
  });

  it('passes malformed argument text through raw instead of throwing', async () => {
    fake.enqueue({ toolCalls: [{ name: 'f', arguments: '{"a": tru' }] });
    const events = await collect(llm().stream(hello));
    expect(events.find((e) => e.type === 'tool_call')).toMatchObject({ call: { arguments: '{"a": tru' } });
  });

  it('streams text that precedes a tool call, then the call', async () => {
    fake.enqueue({ text: 'One moment.', toolCalls: [{ name: 'lookup', arguments: {} }] });
    const events = await collect(llm().stream(hello));
    expect(events.map((e) => e.type)).toEqual(['text', 'text', 'tool_call', 'done']);
  });
});

describe('OpenAiLlm retries and errors', () => {
  it('429 then success: retried once, one spoken stream', async () => {
    fake.enqueue({ status: 429, retryAfterMs: 20 }, { text: 'Second time lucky.' });
    const events = await collect(llm().stream(hello));
    expect(fake.requests).toHaveLength(2);
    expect(textOf(events)).toBe('Second time lucky.');
    expect(events.filter((e) => e.type === 'done')).toHaveLength(1);
  });

  it('a retry-after beyond the first-token budget fails at once with rate_limited', async () => {
    fake.enqueue({ status: 429, retryAfterMs: 60_000 }, { text: 'never' });
    const err = await failure(llm().stream(hello));
    expect(err.kind).toBe('rate_limited');
    expect(err.status).toBe(429);
    expect(fake.requests).toHaveLength(1);
  });

  it('honours retry-after in seconds too', async () => {
    fake.enqueue({ status: 503, retryAfterSeconds: 30 }, { text: 'never' });
    const err = await failure(llm().stream(hello));
    expect(err.kind).toBe('server_error');
    expect(fake.requests).toHaveLength(1);
  });

  it('500 on every attempt: three attempts, then server_error', async () => {
    fake.setResponder(() => ({ status: 500 }));
    const err = await failure(llm().stream(hello));
    expect(err.kind).toBe('server_error');
    expect(err.status).toBe(500);
    expect(fake.requests).toHaveLength(3);
  });

  it('maxAttempts 1 never retries', async () => {
    fake.setResponder(() => ({ status: 502 }));
    const err = await failure(llm({ maxAttempts: 1 }).stream(hello));
    expect(err.kind).toBe('server_error');
    expect(fake.requests).toHaveLength(1);
  });

  it('401 is auth and is not retried', async () => {
    fake.enqueue({ status: 401 }, { text: 'never' });
    const err = await failure(llm().stream(hello));
    expect(err.kind).toBe('auth');
    expect(err.status).toBe(401);
    expect(fake.requests).toHaveLength(1);
  });

  it('a wrong key is rejected by the server as auth', async () => {
    const err = await failure(llm({ apiKey: 'sk-wrong' }).stream(hello));
    expect(err.kind).toBe('auth');
    expect(err.message).toContain('401');
  });

  it('400 is bad_request and is not retried', async () => {
    fake.enqueue({ status: 400 }, { text: 'never' });
    const err = await failure(llm().stream(hello));
    expect(err.kind).toBe('bad_request');
    expect(fake.requests).toHaveLength(1);
  });

  it('an error event mid-stream before any text is retried like a 5xx', async () => {
    fake.enqueue({ text: 'broken reply', errorAfterChunks: 1 }, { text: 'Fine now.' });
    const events = await collect(llm().stream(hello));
    expect(textOf(events)).toBe('Fine now.');
    expect(fake.requests).toHaveLength(2);
  });

  it('an error event after text was spoken fails without a retry', async () => {
    fake.setResponder(() => ({ text: 'Half a sentence and then', errorAfterChunks: 3 }));
    const seen: LlmStreamEvent[] = [];
    const err = await failure(llm().stream(hello), seen);
    expect(err.kind).toBe('server_error');
    expect(textOf(seen)).toBe('Half a');
    expect(fake.requests).toHaveLength(1);
  });

  it('nothing listening: connection error', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = await failure(llm({ baseUrl: `http://127.0.0.1:${port}/v1`, maxAttempts: 2 }).stream(hello));
    expect(err.kind).toBe('connection');
  });

  it('the socket cut mid-reply is a connection error, not a quiet end', async () => {
    // Role chunk plus two words, then the server goes away.
    fake.setResponder(() => ({ text: 'one two three four', stallAfterChunks: 3 }));
    const seen: LlmStreamEvent[] = [];
    const stream = llm().stream(hello)[Symbol.asyncIterator]();
    const first = await stream.next();
    seen.push(first.value as LlmStreamEvent);
    void fake.close();
    const err = await failure({ [Symbol.asyncIterator]: () => stream }, seen);
    expect(err.kind).toBe('connection');
    expect(textOf(seen)).toBe('one two');
  });
});

describe('OpenAiLlm timeouts', () => {
  it('headers then silence: stall after chunkTimeoutMs, retried, then stall', async () => {
    fake.setResponder(() => ({ text: 'never', stallAfterChunks: 0 }));
    const err = await failure(llm({ chunkTimeoutMs: 150 }).stream(hello));
    expect(err.kind).toBe('stall');
    expect(fake.requests).toHaveLength(3);
    const outcomes = await Promise.all(fake.responses.map((r) => r.ended));
    expect(outcomes).toEqual(['stalled', 'stalled', 'stalled']);
  });

  it('a stall before any text is retried and the retry answers', async () => {
    fake.enqueue({ text: 'never', stallAfterChunks: 1 }, { text: 'Here I am.' });
    const events = await collect(llm({ chunkTimeoutMs: 150 }).stream(hello));
    expect(textOf(events)).toBe('Here I am.');
  });

  it('a stall after text was spoken fails with stall and is not retried', async () => {
    fake.setResponder(() => ({ text: 'one two three four five', stallAfterChunks: 3 }));
    const seen: LlmStreamEvent[] = [];
    const err = await failure(llm({ chunkTimeoutMs: 150 }).stream(hello), seen);
    expect(err.kind).toBe('stall');
    expect(textOf(seen)).toBe('one two');
    expect(fake.requests).toHaveLength(1);
  });
});

describe('OpenAiLlm cancellation', () => {
  it('abort mid-stream ends quietly and the fake sees the client leave', async () => {
    fake.enqueue({ text: 'one two three four five six seven eight nine ten', tokensPerSecond: 40 });
    const ctl = new AbortController();
    const events: LlmStreamEvent[] = [];
    for await (const e of llm().stream({ ...hello, signal: ctl.signal })) {
      events.push(e);
      if (events.length === 2) ctl.abort('barge-in');
    }
    expect(events.length).toBeLessThan(5);
    expect(events.some((e) => e.type === 'done')).toBe(false);
    expect(await fake.responses[0]!.ended).toBe('client_closed');
  });

  it('abort before headers ends quietly', async () => {
    fake.enqueue({ text: 'late', headersDelayMs: 2_000 });
    const ctl = new AbortController();
    const done = collect(llm().stream({ ...hello, signal: ctl.signal }));
    // Abort only once the server holds the request, so the abort really lands before headers.
    await vi.waitFor(() => expect(fake.responses).toHaveLength(1));
    ctl.abort('hangup');
    expect(await done).toEqual([]);
    expect(await fake.responses[0]!.ended).toBe('client_closed');
  });

  it('an already-aborted signal sends nothing', async () => {
    const ctl = new AbortController();
    ctl.abort();
    expect(await collect(llm().stream({ ...hello, signal: ctl.signal }))).toEqual([]);
    expect(fake.requests).toHaveLength(0);
  });

  it('abort while backing off ends quietly without another request', async () => {
    fake.enqueue({ status: 429, retryAfterMs: 1_000 }, { text: 'never' });
    const ctl = new AbortController();
    setTimeout(() => ctl.abort('hangup'), 100);
    const events = await collect(llm().stream({ ...hello, signal: ctl.signal }));
    expect(events).toEqual([]);
    expect(fake.requests).toHaveLength(1);
  });

  it('replies read to their end leave their connections open for the next requests', async () => {
    const replies = ['One.', 'Two.', 'Three.', 'Four.', 'Five.', 'Six.'];
    fake.enqueue(...replies.map((text) => ({ text })));
    const model = llm();
    for (const [i, text] of replies.entries()) {
      expect(textOf(await collect(model.stream(hello)))).toBe(text);
      expect(await fake.responses[i]!.ended).toBe('completed');
    }
    // Kept-alive connections are reused (the pool may hold two while one is being released);
    // aborting a finished request would cost a new TCP connection per reply.
    expect(new Set(fake.responses.map((r) => r.clientPort)).size).toBeLessThanOrEqual(2);
  });

  it('a consumer that stops reading releases the request', async () => {
    fake.enqueue({ text: 'one two three four five six seven eight', tokensPerSecond: 40 });
    for await (const e of llm().stream(hello)) {
      if (e.type === 'text') break;
    }
    expect(await fake.responses[0]!.ended).toBe('client_closed');
  });
});

/** The container builds the LLM from the configuration. */
// What the container builds from configuration: the adapter behind its circuit breaker.
const llmFromConfig = (config: ReturnType<typeof loadConfig>) => createProviders(config, systemClock, silentLogger).llm;

describe('OpenAiLlm configuration', () => {
  it('without a key it constructs, then fails each request naming OPENAI_API_KEY', async () => {
    const unconfigured = llmFromConfig(loadConfig({}));
    const err = await failure(unconfigured.stream(hello));
    expect(err.kind).toBe('not_configured');
    expect(err.message).toContain('OPENAI_API_KEY');
  });

  it('from config it uses the key, base URL and model', async () => {
    fake.enqueue({ text: 'configured' });
    const fromConfig = llmFromConfig(
      loadConfig({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, OPENAI_MODEL: 'gpt-from-env' }),
    );
    expect(textOf(await collect(fromConfig.stream(hello)))).toBe('configured');
    expect(fake.requests[0]?.model).toBe('gpt-from-env');
  });
});
