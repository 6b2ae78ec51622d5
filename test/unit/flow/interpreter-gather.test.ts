import { describe, expect, it } from 'vitest';
import { ScriptedLlm } from '../../../src/providers/llm/fake.js';
import { dtmf, speech, timeout } from '../../support/scripted-port.js';
import { harness, makeFlow } from './harness.js';

type GatherInput = Parameters<typeof makeFlow>[0][number] & { type: 'gather' };

function gatherFlow(gather: Partial<GatherInput>) {
  return makeFlow([
    { id: 'g', type: 'gather', prompt: 'Tell me.', variable: 'v', next: 'ok', onFailure: 'failed', ...gather } as GatherInput,
    { id: 'ok', type: 'end', text: 'got {{v}}' },
    { id: 'failed', type: 'end', text: 'failed' },
  ]);
}

describe('gather node', () => {
  it('DTMF keeps leading zeros as a string and passes min/max/terminator to listen', async () => {
    const h = harness(gatherFlow({ input: ['dtmf'], valueType: 'digits', digits: { min: 4, max: 6, terminator: '#' }, timeoutMs: 7000 }), { inputs: [dtmf('0042')] });
    await h.interpreter.run();
    expect(h.interpreter.snapshot().variables.v).toBe('0042');
    expect(h.port.listens[0]).toEqual({ speech: false, dtmf: { min: 4, max: 6, terminator: '#' }, timeoutMs: 7000 });
    expect(h.port.said[0]!.options).toEqual({ interruptible: true, cacheable: true, stopOnDtmf: true });
  });

  it('too few digits use a retry; the prompt is asked again', async () => {
    const h = harness(gatherFlow({ input: ['dtmf'], digits: { min: 4, max: 4, terminator: 'none' } }), { inputs: [dtmf('12'), dtmf('1234')] });
    await h.interpreter.run();
    expect(h.port.texts).toEqual(['Tell me.', 'Tell me.', 'got 1234']);
  });

  it('timeouts retry, and exhausted retries go to onFailure', async () => {
    const h = harness(gatherFlow({ retries: 2, timeoutMs: 3000 }), { inputs: [timeout, timeout, timeout] });
    await h.interpreter.run();
    expect(h.port.texts).toEqual(['Tell me.', 'Tell me.', 'Tell me.', 'failed']);
    expect(h.port.listens.map((l) => l.timeoutMs)).toEqual([3000, 3000, 3000]);
  });

  it('a speech-only gather does not offer DTMF or stop the prompt on keys', async () => {
    const h = harness(gatherFlow({ input: ['speech'], valueType: 'text' }), { inputs: [speech('hello there')] });
    await h.interpreter.run();
    expect(h.port.listens[0]).toMatchObject({ speech: true, dtmf: false });
    expect(h.port.said[0]!.options.stopOnDtmf).toBeUndefined();
    expect(h.port.texts.at(-1)).toBe('got hello there');
  });

  it.each([
    ['yesno', 'Yes please', 'yes'],
    ['yesno', 'nope.', 'no'],
    ['digits', 'my pin is 0 4 2 7', '0427'],
    ['digits', 'one two three', '123'],
    ['number', 'about 1,200', 1200],
    ['date', 'tomorrow', '2026-01-06'],
    ['date', 'on 2026-02-03 please', '2026-02-03'],
    ['choice', 'Large!', 'large'],
  ] as const)('fast path (no LLM): %s from "%s"', async (valueType, said, expected) => {
    const llm = new ScriptedLlm();
    const h = harness(gatherFlow({ input: ['speech'], valueType, choices: ['small', 'large'] }), { llm, inputs: [speech(said)] });
    await h.interpreter.run();
    expect(h.interpreter.snapshot().variables.v).toEqual(expected);
    expect(llm.requests).toHaveLength(0);
  });

  it('speech that needs understanding is extracted by the LLM with a JSON prompt and the call date', async () => {
    const llm = new ScriptedLlm([{ text: '{"value":"2026-01-09"}' }]);
    const h = harness(gatherFlow({ input: ['speech'], valueType: 'date' }), { llm, inputs: [speech('this Friday')] });
    await h.interpreter.run();
    expect(h.interpreter.snapshot().variables.v).toBe('2026-01-09');
    const req = llm.requests[0]!;
    expect(req.json).toBe(true);
    expect(req.tools).toBeUndefined();
    expect(req.messages[0]!.content).toContain('today is 2026-01-05 (Monday)');
    expect(req.messages[0]!.content).toContain('"Tell me."');
    expect(req.messages[1]).toEqual({ role: 'user', content: 'this Friday' });
  });

  it.each([
    ['number', 'forty two', '{"value": 42}', 42],
    ['yesno', 'I suppose so', '```json\n{"value":"yes"}\n```', 'yes'],
    ['choice', 'the big one', '{"value":"LARGE"}', 'large'],
    ['digits', 'oh four two', '{"value":"042"}', '042'],
  ] as const)('LLM extraction for %s', async (valueType, said, reply, expected) => {
    const llm = new ScriptedLlm([{ text: reply }]);
    const h = harness(gatherFlow({ input: ['speech'], valueType, choices: ['small', 'large'] }), { llm, inputs: [speech(said)] });
    await h.interpreter.run();
    expect(h.interpreter.snapshot().variables.v).toEqual(expected);
  });

  it('an LLM answer of null or the wrong type uses a retry', async () => {
    const llm = new ScriptedLlm([{ text: '{"value":null}' }, { text: '{"value":"medium"}' }, { text: 'not json' }]);
    const h = harness(gatherFlow({ input: ['speech'], valueType: 'choice', choices: ['small', 'large'], retries: 2 }), {
      llm,
      inputs: [speech('hmm'), speech('medium'), speech('whatever')],
    });
    await h.interpreter.run();
    expect(h.port.texts.at(-1)).toBe('failed');
    expect(llm.requests).toHaveLength(3);
  });

  it('keypad menus: 1/2 for yes/no, n-th choice, or a choice equal to the digits', async () => {
    const yes = harness(gatherFlow({ input: ['dtmf'], valueType: 'yesno' }), { inputs: [dtmf('2')] });
    await yes.interpreter.run();
    expect(yes.interpreter.snapshot().variables.v).toBe('no');
    expect(yes.port.listens[0]!.dtmf).toEqual({ min: 1, max: 1, terminator: 'none' });

    const menu = harness(gatherFlow({ input: ['dtmf'], valueType: 'choice', choices: ['pickup', 'delivery'] }), { inputs: [dtmf('2')] });
    await menu.interpreter.run();
    expect(menu.interpreter.snapshot().variables.v).toBe('delivery');

    const literal = harness(gatherFlow({ input: ['dtmf'], valueType: 'choice', choices: ['3', '1'] }), { inputs: [dtmf('1')] });
    await literal.interpreter.run();
    expect(literal.interpreter.snapshot().variables.v).toBe('1');
  });

  it('no LLM configured: an unclear spoken answer takes the fallback', async () => {
    const h = harness(gatherFlow({ input: ['speech'], valueType: 'number' }), { inputs: [speech('a few')] });
    const result = await h.interpreter.run();
    expect(result.reason).toBe('llm_failed');
    expect(h.eventsOf('llm.failed')[0]!.kind).toBe('not_configured');
  });
});
