import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LlmPort, LlmRequest, LlmStreamEvent } from '../../../src/providers/llm/port.js';
import { ProviderError } from '../../../src/providers/errors.js';

/**
 * The behaviour every LlmPort must share (STYLE habit 4): the OpenAI adapter
 * against the fake server and the scripted fake run the same cases. A binding
 * says how to script one reply; `slowText` must stream slowly enough to abort.
 */
export interface ContractReply {
  text?: string;
  toolCalls?: { name: string; arguments: string }[];
  /** The provider refuses every attempt this way (a retryable kind is retried, then surfaces). */
  fail?: ContractFailure;
  /** Stream slowly enough that the test can abort mid-way. */
  slow?: boolean;
}

export type ContractFailure = 'auth' | 'bad_request' | 'rate_limited' | 'server_error';

export interface LlmBinding {
  llm: LlmPort;
  script(reply: ContractReply): void;
  /**
   * A port whose next reply never starts, and `expire()` that lets its
   * first-token budget run out (on a manual clock where the port has one).
   */
  hanging(): { llm: LlmPort; expire(): Promise<void> };
  /** How many requests reached the provider (if it can tell). */
  requestCount?(): number;
  close?(): Promise<void>;
}

const ask: LlmRequest = { messages: [{ role: 'user', content: 'hello' }] };

async function collect(stream: AsyncIterable<LlmStreamEvent>): Promise<LlmStreamEvent[]> {
  const out: LlmStreamEvent[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

export function describeLlmContract(name: string, bind: () => Promise<LlmBinding>): void {
  describe(`LlmPort contract: ${name}`, () => {
    let b: LlmBinding;
    beforeEach(async () => {
      b = await bind();
    });
    afterEach(async () => {
      await b.close?.();
    });

    it('text arrives as deltas that join to the reply, then exactly one done, last', async () => {
      b.script({ text: 'Good morning, how can I help?' });
      const events = await collect(b.llm.stream(ask));
      expect(events.map((e) => (e.type === 'text' ? e.text : '')).join('')).toBe('Good morning, how can I help?');
      expect(events.filter((e) => e.type === 'done')).toHaveLength(1);
      expect(events.at(-1)?.type).toBe('done');
    });

    it('a tool call comes whole, with its raw argument text', async () => {
      b.script({ toolCalls: [{ name: 'transfer_call', arguments: '{"reason":"billing"}' }] });
      const events = await collect(b.llm.stream(ask));
      const calls = events.flatMap((e) => (e.type === 'tool_call' ? [e.call] : []));
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ name: 'transfer_call', arguments: '{"reason":"billing"}' });
      expect(calls[0]!.id).not.toBe('');
      expect(events.at(-1)?.type).toBe('done');
    });

    it('an already-aborted signal yields nothing and does not throw', async () => {
      b.script({ text: 'never' });
      const ctl = new AbortController();
      ctl.abort();
      expect(await collect(b.llm.stream({ ...ask, signal: ctl.signal }))).toEqual([]);
    });

    it('an abort mid-stream ends quietly, with no done', async () => {
      b.script({ text: 'one two three four five six seven eight nine ten', slow: true });
      const ctl = new AbortController();
      const events: LlmStreamEvent[] = [];
      for await (const e of b.llm.stream({ ...ask, signal: ctl.signal })) {
        events.push(e);
        ctl.abort('barge-in');
      }
      expect(events).toHaveLength(1);
    });

    it.each([
      ['auth', false],
      ['bad_request', false],
      ['rate_limited', true],
      ['server_error', true],
    ] as const)('a %s failure is a ProviderError of stage llm, retryable: %s', async (kind, retryable) => {
      b.script({ fail: kind });
      const err = await collect(b.llm.stream(ask)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ stage: 'llm', kind, retryable });
    });

    it('a reply that never starts fails with first_token_timeout once the budget is spent, not retryable', async () => {
      const { llm, expire } = b.hanging();
      const outcome = collect(llm.stream(ask)).then(
        () => undefined,
        (e: unknown) => e,
      );
      await expire();
      expect(await outcome).toMatchObject({ stage: 'llm', kind: 'first_token_timeout', retryable: false });
    });
  });
}
