import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { buildBrief, lastTurnsBrief, type BriefTurn } from '../../../src/handoff/brief.js';
import type { LlmPort, LlmRequest, LlmStreamEvent } from '../../../src/providers/llm/port.js';

const turns: BriefTurn[] = [
  { role: 'agent', text: 'Hello, how can I help?' },
  { role: 'caller', text: 'My order never arrived.' },
  { role: 'agent', text: 'Sorry to hear that.' },
  { role: 'caller', text: 'I want a refund.' },
];

function llm(reply: (r: LlmRequest) => AsyncIterable<LlmStreamEvent>): LlmPort & { requests: LlmRequest[] } {
  const requests: LlmRequest[] = [];
  return { requests, stream: (r) => (requests.push(r), reply(r)) };
}

describe('the person’s brief', () => {
  it('the node’s summary wins, and no LLM is asked', async () => {
    const l = llm(async function* () {
      yield { type: 'text', text: 'x' };
    });
    expect(await buildBrief({ summary: ' Ann, order 42, wants a refund. ', turns, llm: l, clock: new ManualClock() })).toEqual({
      text: 'Ann, order 42, wants a refund.',
      source: 'summary',
    });
    expect(l.requests).toHaveLength(0);
  });

  it('else an LLM summary of the call so far', async () => {
    const l = llm(async function* () {
      yield { type: 'text', text: 'A customer whose order ' };
      yield { type: 'text', text: 'never arrived wants a refund.' };
    });
    expect(await buildBrief({ turns, llm: l, clock: new ManualClock() })).toEqual({ text: 'A customer whose order never arrived wants a refund.', source: 'llm' });
    expect(l.requests[0]!.messages[1]).toEqual({
      role: 'user',
      content: 'Agent: Hello, how can I help?\nCaller: My order never arrived.\nAgent: Sorry to hear that.\nCaller: I want a refund.',
    });
  });

  it('else (no LLM, an LLM error, or a slow LLM) the caller’s last turns', async () => {
    expect(await buildBrief({ turns, clock: new ManualClock() })).toEqual({
      text: 'The caller said: My order never arrived. … I want a refund.',
      source: 'last_turns',
    });
    const failing = llm(async function* () {
      yield* [];
      throw new Error('rate limited');
    });
    expect((await buildBrief({ turns, llm: failing, clock: new ManualClock() })).source).toBe('last_turns');

    const clock = new ManualClock();
    const slow = llm(async function* (r) {
      yield { type: 'text', text: 'Half a' };
      await new Promise<void>((resolve) => r.signal!.addEventListener('abort', () => resolve()));
    });
    const brief = buildBrief({ turns, llm: slow, clock });
    await clock.advance(4000);
    expect(await brief).toMatchObject({ source: 'last_turns' });
    expect(lastTurnsBrief([])).toBe('A caller is waiting for you.');
  });
});
