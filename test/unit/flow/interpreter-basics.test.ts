import { describe, expect, it } from 'vitest';
import { ScriptedLlm } from '../../../src/providers/llm/fake.js';
import { dtmf, hangup, speech } from '../../support/scripted-port.js';
import { harness, makeFlow } from './harness.js';

describe('interpreter: say, branch, end, variables', () => {
  it('speaks templated text with builtins and settings variables, then hangs up at end', async () => {
    const flow = makeFlow(
      [
        { id: 'hello', type: 'say', text: 'Hi {{name}}, this is {{agent.name}}. You called {{caller.to}} from {{caller.number}}.', next: 'plain' },
        { id: 'plain', type: 'say', text: 'Static text.', interruptible: false, next: 'bye' },
        { id: 'bye', type: 'end', text: 'Goodbye on {{now.weekday}} {{now.date}}.' },
      ],
      { variables: { name: 'Sam' } },
    );
    const h = harness(flow);
    const result = await h.interpreter.run();
    expect(result).toEqual({ outcome: 'completed', lastNodeId: 'bye' });
    // ManualClock starts on Monday 2026-01-05 15:00 UTC.
    expect(h.port.texts).toEqual([
      'Hi Sam, this is Test Agent. You called +15550100001 from +15550100999.',
      'Static text.',
      'Goodbye on Monday 2026-01-05.',
    ]);
    expect(h.port.said.map((s) => s.options)).toEqual([
      { interruptible: true, cacheable: false },
      { interruptible: false, cacheable: true },
      { interruptible: false, cacheable: false },
    ]);
    expect(h.port.hangups).toEqual(['completed']);
    expect(h.nodesEntered()).toEqual(['hello', 'plain', 'bye']);
    expect(h.eventsOf('flow.ended')).toEqual([{ type: 'flow.ended', outcome: 'completed', nodeId: 'bye' }]);
    const last = h.snapshots.at(-1)!;
    expect(last.status).toBe('ended');
    expect(last.transcript.map((t) => [t.role, t.text])).toEqual(h.port.texts.map((t) => ['agent', t]));
  });

  it('an end node without text only hangs up', async () => {
    const h = harness(makeFlow([{ id: 'bye', type: 'end' }]));
    expect((await h.interpreter.run()).outcome).toBe('completed');
    expect(h.port.said).toHaveLength(0);
    expect(h.port.hangups).toEqual(['completed']);
  });

  it('branches on DTMF without ever calling the LLM', async () => {
    const llm = new ScriptedLlm();
    const flow = makeFlow([
      { id: 'menu', type: 'gather', prompt: 'Press 1 or 2.', variable: 'choice', input: ['dtmf'], valueType: 'digits', digits: { min: 1, max: 1, terminator: 'none' }, next: 'route' },
      {
        id: 'route',
        type: 'branch',
        branches: [
          { if: { var: 'choice', op: 'eq', value: 1 }, to: 'one' },
          { if: { var: 'choice', op: 'eq', value: '2' }, to: 'two' },
        ],
        else: 'other',
      },
      { id: 'one', type: 'end', text: 'one' },
      { id: 'two', type: 'end', text: 'two' },
      { id: 'other', type: 'end', text: 'other' },
    ]);
    for (const [digits, expected] of [['1', 'one'], ['2', 'two'], ['9', 'other']] as const) {
      const h = harness(flow, { inputs: [dtmf(digits)], llm });
      await h.interpreter.run();
      expect(h.port.texts.at(-1)).toBe(expected);
    }
    expect(llm.requests).toHaveLength(0);
  });

  it('a caller hang-up while listening ends the run with outcome hangup and no port.hangup', async () => {
    const flow = makeFlow([
      { id: 'ask', type: 'gather', prompt: 'Your PIN?', variable: 'pin', next: 'bye' },
      { id: 'bye', type: 'end' },
    ]);
    const h = harness(flow, { inputs: [hangup] });
    expect(await h.interpreter.run()).toEqual({ outcome: 'hangup', reason: 'caller', lastNodeId: 'ask' });
    expect(h.port.hangups).toEqual([]);
  });

  it('records caller turns in the transcript and emits turn events', async () => {
    const flow = makeFlow([
      { id: 'ask', type: 'gather', prompt: 'Name?', variable: 'name', input: ['speech'], valueType: 'text', next: 'bye' },
      { id: 'bye', type: 'end', text: 'Bye {{name}}' },
    ]);
    const h = harness(flow, { inputs: [speech('Ada Lovelace')] });
    await h.interpreter.run();
    expect(h.eventsOf('turn.caller')).toEqual([{ type: 'turn.caller', nodeId: 'ask', text: 'Ada Lovelace' }]);
    expect(h.eventsOf('variable.set')).toEqual([{ type: 'variable.set', name: 'name', value: 'Ada Lovelace', nodeId: 'ask' }]);
    expect(h.port.texts).toEqual(['Name?', 'Bye Ada Lovelace']);
    expect(h.interpreter.snapshot().transcript.map((t) => t.role)).toEqual(['agent', 'caller', 'agent']);
  });

  it('a deterministic loop is stopped with the fallback message instead of spinning', async () => {
    const flow = makeFlow([
      { id: 'a', type: 'branch', branches: [{ if: { var: 'x', op: 'exists' }, to: 'b' }], else: 'b' },
      { id: 'b', type: 'branch', branches: [{ if: { var: 'x', op: 'exists' }, to: 'a' }], else: 'a' },
      { id: 'end', type: 'end' },
    ], { fallbackMessage: 'Sorry.' });
    const h = harness(flow);
    const result = await h.interpreter.run();
    expect(result.outcome).toBe('failed');
    expect(result.reason).toBe('loop');
    expect(h.port.texts).toEqual(['Sorry.']);
    expect(h.port.hangups).toEqual(['fallback']);
  });

  it('run can only be called once', async () => {
    const h = harness(makeFlow([{ id: 'bye', type: 'end' }]));
    await h.interpreter.run();
    expect(() => h.interpreter.run()).toThrow(/only once/);
  });
});

describe('interpreter: transfer', () => {
  const flow = makeFlow([
    { id: 'xfer', type: 'transfer', target: { queue: 'support' }, mode: 'warm', announce: 'Connecting you, {{name}}.', summary: 'Caller {{name}} needs help.', onUnavailable: 'sorry' },
    { id: 'sorry', type: 'end', text: 'Nobody is free.' },
  ], { variables: { name: 'Bo' } });

  it('announces, then requests a warm transfer with the rendered summary', async () => {
    const h = harness(flow);
    expect(await h.interpreter.run()).toEqual({ outcome: 'transferred', reason: 'warm', lastNodeId: 'xfer' });
    expect(h.port.texts).toEqual(['Connecting you, Bo.']);
    expect(h.port.said[0]!.options.interruptible).toBe(false);
    expect(h.port.transfers).toEqual([
      { target: { queue: 'support' }, mode: 'warm', nodeId: 'xfer', announce: 'Connecting you, Bo.', summary: 'Caller Bo needs help.', onUnavailable: 'sorry', ringSeconds: 20, maxWaitSeconds: 60 },
    ]);
    expect(h.eventsOf('transfer.requested')).toEqual([{ type: 'transfer.requested', nodeId: 'xfer', target: { queue: 'support' }, mode: 'warm' }]);
    expect(h.port.hangups).toEqual([]);
  });

  it('unavailable continues at onUnavailable', async () => {
    const h = harness(flow, { port: new (await import('../../support/scripted-port.js')).ScriptedPort({ transfers: [{ outcome: 'unavailable', reason: 'no-answer' }] }) });
    expect((await h.interpreter.run()).outcome).toBe('completed');
    expect(h.port.texts).toEqual(['Connecting you, Bo.', 'Nobody is free.']);
  });

  it('a cold transfer sends no summary', async () => {
    const cold = makeFlow([{ id: 'x', type: 'transfer', target: { number: '+15550100123' }, mode: 'cold', summary: 'ignored' }]);
    const h = harness(cold);
    await h.interpreter.run();
    expect(h.port.transfers).toEqual([{ target: { number: '+15550100123' }, mode: 'cold', nodeId: 'x', ringSeconds: 20, maxWaitSeconds: 60 }]);
  });
});

describe('interpreter: failure edges and fallbacks', () => {
  it('a missing failure edge goes to settings.fallbackNode', async () => {
    const flow = makeFlow(
      [
        { id: 'ask', type: 'gather', prompt: 'PIN?', variable: 'pin', input: ['dtmf'], retries: 0, next: 'ok' },
        { id: 'ok', type: 'end', text: 'ok' },
        { id: 'help', type: 'end', text: 'Let me get help.' },
      ],
      { fallbackNode: 'help' },
    );
    const h = harness(flow, { inputs: [{ kind: 'timeout' }] });
    expect(await h.interpreter.run()).toEqual({ outcome: 'completed', lastNodeId: 'help' });
    expect(h.port.texts).toEqual(['PIN?', 'Let me get help.']);
  });

  it('without fallbackNode the fallbackMessage is spoken and the call ends as failed', async () => {
    const flow = makeFlow(
      [
        { id: 'ask', type: 'gather', prompt: 'PIN?', variable: 'pin', input: ['dtmf'], retries: 0, next: 'ok' },
        { id: 'ok', type: 'end' },
      ],
      { fallbackMessage: 'Sorry {{caller.number}}, goodbye.' },
    );
    const h = harness(flow, { inputs: [{ kind: 'timeout' }] });
    expect(await h.interpreter.run()).toEqual({ outcome: 'failed', reason: 'gather_failed', lastNodeId: 'ask' });
    expect(h.port.texts).toEqual(['PIN?', 'Sorry +15550100999, goodbye.']);
    expect(h.port.said[1]!.options).toEqual({ interruptible: false, cacheable: false });
    expect(h.port.hangups).toEqual(['fallback']);
  });

  it('an LLM failing for good goes to the fallback node, and a failing fallback cannot loop', async () => {
    const flow = makeFlow(
      [
        { id: 'chat', type: 'conversation', prompt: 'Help.', speakFirst: true, exits: [] },
        { id: 'sorry', type: 'say', text: 'Trouble.', next: 'chat' },
      ],
      { systemPrompt: 'You help.', fallbackNode: 'sorry', fallbackMessage: 'Final sorry.' },
    );
    const llm = new ScriptedLlm([], { whenEmpty: { error: 'server_error' } });
    const h = harness(flow, { llm });
    const result = await h.interpreter.run();
    expect(result.outcome).toBe('failed');
    expect(result.reason).toBe('llm_failed');
    expect(h.port.texts).toEqual(['Trouble.', 'Trouble.', 'Trouble.', 'Final sorry.']);
    expect(h.eventsOf('llm.failed')).toHaveLength(4);
    expect(h.eventsOf('llm.failed')[0]).toMatchObject({ nodeId: 'chat', kind: 'server_error' });
  });

  it('no LLM configured: a conversation takes the fallback naming nothing secret', async () => {
    const flow = makeFlow([{ id: 'chat', type: 'conversation', prompt: 'Help.', speakFirst: true }], { systemPrompt: 's', fallbackMessage: 'Sorry.' });
    const h = harness(flow);
    expect((await h.interpreter.run()).reason).toBe('llm_failed');
    expect(h.eventsOf('llm.failed')[0]).toMatchObject({ kind: 'not_configured', message: expect.stringContaining('OPENAI_API_KEY') });
  });
});
