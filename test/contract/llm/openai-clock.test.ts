import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import {
  LLM_CHUNK_TIMEOUT_MS,
  LLM_FIRST_TOKEN_TIMEOUT_MS,
  OpenAiLlm,
} from '../../../src/providers/llm/openai.js';
import type { LlmStreamEvent } from '../../../src/providers/llm/port.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../../src/testing/openai-server.js';
import { ProviderError } from '../../../src/providers/errors.js';

/**
 * The adapter's own timeouts run on the injected clock: with a ManualClock they
 * fire exactly at the DESIGN §8 values (4 s first token, 3 s stall) and not a
 * millisecond earlier, with no real waiting.
 */

let fake: FakeOpenAI;
beforeEach(async () => {
  fake = await startFakeOpenAI();
});
afterEach(async () => {
  await fake.close();
});

function watch(stream: AsyncIterable<LlmStreamEvent>) {
  const state: { error?: ProviderError; done: boolean } = { done: false };
  const settled = (async () => {
    try {
      for await (const e of stream) void e;
    } catch (err) {
      state.error = err as ProviderError;
    }
    state.done = true;
  })();
  return { state, settled };
}

const hello = { messages: [{ role: 'user' as const, content: 'hi' }] };

describe('OpenAiLlm timeouts on the injected clock', () => {
  it('defaults are the DESIGN values', () => {
    expect(LLM_FIRST_TOKEN_TIMEOUT_MS).toBe(4_000);
    expect(LLM_CHUNK_TIMEOUT_MS).toBe(3_000);
  });

  it('stall fires at exactly chunkTimeoutMs after the headers', async () => {
    const clock = new ManualClock();
    fake.enqueue({ text: 'never', stallAfterChunks: 0 });
    const llm = new OpenAiLlm({ apiKey: 'k', baseUrl: fake.url, clock, maxAttempts: 1 });
    const { state, settled } = watch(llm.stream(hello));
    // Both timers armed means the headers are in and we wait for the first chunk.
    await vi.waitFor(() => expect(clock.pending()).toBe(2));
    await clock.advance(LLM_CHUNK_TIMEOUT_MS - 1);
    expect(state.done).toBe(false);
    await clock.advance(1);
    await settled;
    expect(state.error?.kind).toBe('stall');
  });

  it('first_token_timeout fires at exactly firstTokenTimeoutMs from the request', async () => {
    const clock = new ManualClock();
    fake.enqueue({ text: 'never', headersDelayMs: 3_000 });
    const llm = new OpenAiLlm({ apiKey: 'k', baseUrl: fake.url, clock });
    const { state, settled } = watch(llm.stream(hello));
    await vi.waitFor(() => expect(fake.responses).toHaveLength(1));
    await clock.advance(LLM_FIRST_TOKEN_TIMEOUT_MS - 1);
    expect(state.done).toBe(false);
    await clock.advance(1);
    await settled;
    expect(state.error?.kind).toBe('first_token_timeout');
    expect(await fake.responses[0]!.ended).toBe('client_closed');
  });

  it('backoff waits on the clock, so a retry happens only when time is advanced', async () => {
    const clock = new ManualClock();
    fake.enqueue({ status: 500 }, { text: 'ok' });
    const llm = new OpenAiLlm({ apiKey: 'k', baseUrl: fake.url, clock, backoffMs: 200, random: () => 0 });
    const { state, settled } = watch(llm.stream(hello));
    // First attempt failed; now only the backoff sleep (100 ms with zero jitter) is pending.
    await vi.waitFor(() => {
      expect(fake.responses[0]?.outcome).toBe('error_status');
      expect(clock.pending()).toBe(1);
    });
    await clock.advance(99);
    expect(fake.requests).toHaveLength(1);
    await clock.advance(1);
    await settled;
    expect(state.error).toBeUndefined();
    expect(fake.requests).toHaveLength(2);
  });
});
