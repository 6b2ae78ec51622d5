import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { createLogger } from '../../../src/core/logger.js';
import { OpenAiLlm } from '../../../src/providers/llm/openai.js';
import type { LlmStreamEvent } from '../../../src/providers/llm/port.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../../src/testing/openai-server.js';
import { ProviderError } from '../../../src/providers/errors.js';

/**
 * The adapter's own timeouts run on the injected clock: with a ManualClock they
 * fire exactly at the default budgets (a reply has 4 s to start, and may go quiet
 * for at most 3 s once it has), not a millisecond earlier, with no real waiting.
 * The budgets are written out as numbers here on purpose: these tests pin what
 * a caller experiences with a default adapter, not the constants' names.
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
  it('by default a stream that goes quiet after the headers stalls at exactly 3 s', async () => {
    const clock = new ManualClock();
    fake.enqueue({ text: 'never', stallAfterChunks: 0 });
    const llm = new OpenAiLlm({ apiKey: 'k', baseUrl: fake.url, clock, maxAttempts: 1 });
    const { state, settled } = watch(llm.stream(hello));
    // Both timers armed means the headers are in and we wait for the first chunk.
    await vi.waitFor(() => expect(clock.pending()).toBe(2));
    await clock.advance(2_999);
    expect(state.done).toBe(false);
    await clock.advance(1);
    await settled;
    expect(state.error?.kind).toBe('stall');
    expect(clock.now()).toBe(3_000);
  });

  it('by default a reply that has not started 4 s after the request fails with first_token_timeout, at exactly 4 s', async () => {
    const clock = new ManualClock();
    fake.enqueue({ text: 'never', headersDelayMs: 3_000 });
    const llm = new OpenAiLlm({ apiKey: 'k', baseUrl: fake.url, clock });
    const { state, settled } = watch(llm.stream(hello));
    await vi.waitFor(() => expect(fake.responses).toHaveLength(1));
    await clock.advance(3_999);
    expect(state.done).toBe(false);
    await clock.advance(1);
    await settled;
    expect(state.error?.kind).toBe('first_token_timeout');
    expect(clock.now()).toBe(4_000);
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

  it('the first-token budget spans retries: a stalled first try leaves the retry only what is left of the 4 s', async () => {
    const clock = new ManualClock();
    // Every try: headers, then silence.
    fake.setResponder(() => ({ text: 'never', stallAfterChunks: 0 }));
    const retries: { delayMs: number }[] = [];
    const logger = createLogger('info', {
      write: (line: string) => {
        const record = JSON.parse(line) as { msg: string; delayMs: number };
        if (record.msg === 'llm request retrying') retries.push(record);
      },
    });
    const llm = new OpenAiLlm({ apiKey: 'k', baseUrl: fake.url, clock, random: () => 0, logger });
    const { state, settled } = watch(llm.stream(hello));

    // First try: the headers are in (first-token and stall timers armed); it stalls at 3 s.
    await vi.waitFor(() => expect(clock.pending()).toBe(2));
    await clock.advance(3_000);
    // The retry is decided (and its backoff sleep armed) in the same turn as this log line.
    await vi.waitFor(() => expect(retries).toHaveLength(1));
    expect(retries[0]!.delayMs).toBe(100);
    await clock.advance(100);

    // Second try at 3.1 s: its headers are in too; the budget ends at 4 s, not 3 s after this try began.
    await vi.waitFor(() => {
      expect(fake.requests).toHaveLength(2);
      expect(clock.pending()).toBe(2);
    });
    await clock.advance(899);
    expect(state.done).toBe(false);
    await clock.advance(1);
    await vi.waitFor(() => expect(state.done).toBe(true));
    await settled;
    expect(state.error?.kind).toBe('first_token_timeout');
    expect(clock.now()).toBe(4_000);
    expect(fake.requests).toHaveLength(2);
    expect(retries).toHaveLength(1);
  });

  it('a slow consumer is not mistaken for a stall: the stall timer runs only while waiting on the network', async () => {
    const clock = new ManualClock();
    fake.enqueue({ text: 'one two three' });
    const llm = new OpenAiLlm({ apiKey: 'k', baseUrl: fake.url, clock, maxAttempts: 1 });
    const texts: string[] = [];
    for await (const e of llm.stream(hello)) {
      if (e.type !== 'text') continue;
      texts.push(e.text);
      // Holding each word for 10 s of (virtual) time: far past the 3 s stall and 4 s first-token budgets.
      expect(clock.pending()).toBe(0);
      await clock.advance(10_000);
    }
    expect(texts.join('')).toBe('one two three');
    expect(clock.now()).toBe(30_000);
  });
});
