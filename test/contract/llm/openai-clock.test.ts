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

  it('a slow consumer is not mistaken for a stall: time at the consumer does not count against the stall budget', async () => {
    const clock = new ManualClock();
    fake.enqueue({ text: 'one two three' });
    const llm = new OpenAiLlm({ apiKey: 'k', baseUrl: fake.url, clock, maxAttempts: 1 });
    const texts: string[] = [];
    for await (const e of llm.stream(hello)) {
      if (e.type !== 'text') continue;
      texts.push(e.text);
      // Holding each word for 10 s of (virtual) time: far past the 3 s stall and 4 s first-token budgets.
      // The first-token timer is gone; the one stall timer stays armed, but its deadline passing here fails nothing.
      expect(clock.pending()).toBe(1);
      await clock.advance(10_000);
    }
    expect(texts.join('')).toBe('one two three');
    expect(clock.now()).toBe(30_000);
  });

  const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');

  it('one stall timer for the whole stream: no timer is made and cleared per chunk', async () => {
    const clock = new ManualClock();
    const armed = vi.spyOn(clock, 'setTimeout');
    fake.enqueue({ text: words(50) });
    const llm = new OpenAiLlm({ apiKey: 'k', baseUrl: fake.url, clock, maxAttempts: 1 });
    let texts = 0;
    for await (const e of llm.stream(hello)) if (e.type === 'text') texts++;
    expect(texts).toBeGreaterThanOrEqual(50);
    // The first-token timer and the stall timer, once each.
    expect(armed).toHaveBeenCalledTimes(2);
    expect(clock.pending()).toBe(0);
  });

  it('a stall after many chunks, some held at the consumer past the budget, fails exactly 3 s after the last chunk was handed back', async () => {
    const clock = new ManualClock();
    // The role chunk, then 20 words; then silence with the socket open.
    fake.enqueue({ text: words(40), stallAfterChunks: 21 });
    const llm = new OpenAiLlm({ apiKey: 'k', baseUrl: fake.url, clock, maxAttempts: 1 });
    const it = llm.stream(hello)[Symbol.asyncIterator]();
    for (let i = 0; i < 20; i++) {
      const r = await it.next();
      expect(r.done).toBe(false);
      expect(r.value).toMatchObject({ type: 'text' });
      // Each word held for 1 s, and the 10th for 5 s (past the whole budget): none of it is OpenAI's time.
      await clock.advance(i === 9 ? 5_000 : 1_000);
    }
    const handedBackAt = clock.now();
    expect(handedBackAt).toBe(24_000);
    let error: ProviderError | undefined;
    const waiting = it.next().catch((err: ProviderError) => {
      error = err;
    });
    await vi.waitFor(() => expect(fake.responses[0]?.outcome).toBe('stalled'));
    await clock.advance(2_999);
    expect(error).toBeUndefined();
    await clock.advance(1);
    await waiting;
    expect(error?.kind).toBe('stall');
    expect(clock.now()).toBe(handedBackAt + 3_000);
  });

  describe('a connection dropped after our loop used up the first-token budget', () => {
    // The first request waits at the fake until `release`, then its connection is dropped
    // without an answer (a kept-alive socket the server had already closed); the second answers.
    async function dropLate(lateMs: number) {
      const clock = new ManualClock();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let calls = 0;
      fake.setResponder(async () => {
        if (++calls > 1) return { text: 'ok' };
        await gate;
        return { dropAfterMs: 0 };
      });
      const lateness = { ms: 0, totalMs: () => lateness.ms };
      const decided: string[] = [];
      const logger = createLogger('info', {
        write: (line: string) => {
          const { msg } = JSON.parse(line) as { msg: string };
          if (msg === 'llm request retrying' || msg === 'llm request failed') decided.push(msg);
        },
      });
      const llm = new OpenAiLlm({ apiKey: 'k', baseUrl: fake.url, clock, random: () => 0, lateness, logger });
      const { state, settled } = watch(llm.stream(hello));
      await vi.waitFor(() => expect(fake.requests).toHaveLength(1));
      // 3.95 s pass before the drop is read; of them, `lateMs` our own loop was behind.
      lateness.ms = lateMs;
      await clock.advance(3_950);
      release();
      // Retried (after a backoff of 100 ms with zero jitter) or failed, decided at 3.95 s.
      await vi.waitFor(() => expect(decided).toHaveLength(1));
      await clock.advance(100);
      await settled;
      return { state, requests: fake.requests.length, decided };
    }

    it('is retried when the budget went on our own lateness', async () => {
      const { state, requests, decided } = await dropLate(3_000);
      expect(decided).toEqual(['llm request retrying']);
      expect(state.error).toBeUndefined();
      expect(requests).toBe(2);
    });

    it('fails without a retry when the LLM had the time', async () => {
      const { state, requests, decided } = await dropLate(0);
      expect(decided).toEqual(['llm request failed']);
      expect(state.error?.kind).toBe('connection');
      expect(requests).toBe(1);
    });
  });

  it('a stall timer that fires late because our loop was busy looks again before failing (src/providers/deadline.ts)', async () => {
    const clock = new ManualClock();
    fake.enqueue({ text: words(10), stallAfterChunks: 6 });
    const llm = new OpenAiLlm({ apiKey: 'k', baseUrl: fake.url, clock, maxAttempts: 1 });
    const it = llm.stream(hello)[Symbol.asyncIterator]();
    for (let i = 0; i < 5; i++) expect((await it.next()).value).toMatchObject({ type: 'text' });
    let error: ProviderError | undefined;
    const waiting = it.next().catch((err: ProviderError) => {
      error = err;
    });
    await vi.waitFor(() => expect(fake.responses[0]?.outcome).toBe('stalled'));
    // One busy stretch to 3.5 s: the timer due at 3 s fires 500 ms late; the loop's lateness is forgiven once.
    await clock.advanceLate(3_500);
    expect(error).toBeUndefined();
    await clock.advance(1);
    await waiting;
    expect(error?.kind).toBe('stall');
  });
});
