import { describe, expect, it } from 'vitest';
import type { LlmPort, LlmRequest, LlmStreamEvent } from '../../../src/providers/llm/port.js';
import { ReplyLlm } from '../../../src/pipeline/reply-llm.js';
import { ProviderError } from '../../../src/providers/errors.js';

/**
 * The call's LLM decorator: timing marks for per-turn metrics, and an abort
 * for joined turns that ends the stream quietly (never an ProviderError, which
 * would send the flow to its fallback).
 */
function scripted(events: LlmStreamEvent[], opts: { failAfter?: number; gate?: Promise<void> } = {}): LlmPort {
  return {
    async *stream(req: LlmRequest) {
      let i = 0;
      for (const ev of events) {
        if (opts.failAfter !== undefined && i === opts.failAfter) throw new ProviderError('fake', 'llm', 'server_error', 'boom', 500);
        if (i === 1 && opts.gate) await opts.gate;
        if (req.signal?.aborted) return;
        yield ev;
        i++;
      }
    },
  };
}

const text = (t: string): LlmStreamEvent => ({ type: 'text', text: t });

async function collect(it: AsyncIterable<LlmStreamEvent>): Promise<LlmStreamEvent[]> {
  const out: LlmStreamEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

describe('ReplyLlm', () => {
  it('reports request, first token and first complete sentence once each', async () => {
    const marks: string[] = [];
    const llm = new ReplyLlm(scripted([text('Hello'), text(' there.'), text(' How'), text(' are you?'), { type: 'done', finishReason: 'stop' }]), {
      onRequest: () => marks.push('request'),
      onFirstToken: () => marks.push('token'),
      onFirstSentence: () => marks.push('sentence'),
    });
    const events = await collect(llm.stream({ messages: [] }));
    expect(events).toHaveLength(5);
    // The sentence is complete only once the whitespace after "there." arrives.
    expect(marks).toEqual(['request', 'token', 'sentence']);
  });

  it('a one-sentence reply without trailing space counts its sentence at the end', async () => {
    const marks: string[] = [];
    const llm = new ReplyLlm(scripted([text('Sure.'), { type: 'done', finishReason: 'stop' }]), { onFirstSentence: () => marks.push('sentence') });
    await collect(llm.stream({ messages: [] }));
    expect(marks).toEqual(['sentence']);
  });

  it('abortInFlight ends the stream quietly; an error from the provider still surfaces', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const llm = new ReplyLlm(scripted([text('One'), text(' two'), text(' three')], { gate }));
    const it = llm.stream({ messages: [] })[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual(text('One'));
    expect(llm.busy).toBe(true);
    const pending = it.next();
    expect(llm.abortInFlight()).toBe(true);
    open();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(llm.busy).toBe(false);
    expect(llm.abortInFlight()).toBe(false);

    const failing = new ReplyLlm(scripted([text('a'), text('b')], { failAfter: 1 }));
    await expect(collect(failing.stream({ messages: [] }))).rejects.toBeInstanceOf(ProviderError);
  });
});
