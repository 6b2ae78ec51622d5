import { describe, expect, it } from 'vitest';
import { ScriptedLlm } from '../../../src/providers/llm/fake.js';
import type { LlmStreamEvent } from '../../../src/providers/llm/port.js';
import { ProviderError } from '../../../src/providers/errors.js';

async function drain(it: AsyncIterable<LlmStreamEvent>): Promise<LlmStreamEvent[]> {
  const out: LlmStreamEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

describe('ScriptedLlm', () => {
  it('streams text chunks, then tool calls, then done, and records each request', async () => {
    const llm = new ScriptedLlm([{ text: ['a', 'b'], toolCalls: [{ name: 'f', arguments: { x: 1 } }, { name: 'g', arguments: '{"y":2}', id: 'id-g' }] }]);
    const events = await drain(llm.stream({ messages: [{ role: 'user', content: 'hi' }] }));
    expect(events).toEqual([
      { type: 'text', text: 'a' },
      { type: 'text', text: 'b' },
      { type: 'tool_call', call: { id: 'call_1_1', name: 'f', arguments: '{"x":1}' } },
      { type: 'tool_call', call: { id: 'id-g', name: 'g', arguments: '{"y":2}' } },
      { type: 'done', finishReason: 'tool_calls' },
    ]);
    expect(llm.requests).toHaveLength(1);
    expect(llm.lastRequest!.messages).toEqual([{ role: 'user', content: 'hi' }]);
    expect(llm.remaining).toBe(0);
  });

  it('fails before the first chunk or after some, with typed errors', async () => {
    const llm = new ScriptedLlm([{ error: 'rate_limited' }, { text: ['x', 'y'], error: new ProviderError('fake', 'llm', 'stall', 'stalled'), errorAfterChunks: 1 }]);
    await expect(drain(llm.stream({ messages: [] }))).rejects.toMatchObject({ kind: 'rate_limited' });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const e of llm.stream({ messages: [] })) if (e.type === 'text') seen.push(e.text);
      })(),
    ).rejects.toMatchObject({ kind: 'stall', message: 'stalled' });
    expect(seen).toEqual(['x']);
  });

  it('an empty script fails loudly unless whenEmpty says otherwise; replies may be functions', async () => {
    await expect(drain(new ScriptedLlm().stream({ messages: [] }))).rejects.toThrow(/no scripted reply/);
    const echo = new ScriptedLlm([], { whenEmpty: (req, i) => ({ text: `${i}:${req.messages.length}` }) });
    expect((await drain(echo.stream({ messages: [{ role: 'user', content: 'a' }] })))[0]).toEqual({ type: 'text', text: '0:1' });
  });

  it('ends quietly when the signal aborts mid-stream', async () => {
    const ctl = new AbortController();
    const llm = new ScriptedLlm([{ text: ['a', 'b', 'c'], toolCalls: [{ name: 'f' }], beforeChunk: (i) => void (i === 1 && ctl.abort()) }]);
    const events = await drain(llm.stream({ messages: [], signal: ctl.signal }));
    expect(events).toEqual([{ type: 'text', text: 'a' }]);
  });
});
