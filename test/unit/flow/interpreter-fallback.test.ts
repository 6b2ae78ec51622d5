import { describe, expect, it } from 'vitest';
import { ScriptedLlm } from '../../../src/providers/llm/fake.js';
import { snapshotNodeId, snapshotVariables } from '../../../src/flow/snapshot.js';
import { BLOCK, dtmf, speech, timeout } from '../../support/scripted-port.js';
import { harness, makeFlow } from './harness.js';

/**
 * Every failure takes one path, owned by the interpreter: `fallbackNode` (never
 * from itself, at most MAX_FALLBACKS times) or `fallbackMessage` rendered with
 * the call's variables, then hang up. One test per failure kind.
 */
const MESSAGE = 'Sorry, please call {{clinicName}} again.';
const SETTINGS = { fallbackMessage: MESSAGE, variables: { clinicName: 'Maple Clinic' } };

const askFlow = (settings: Record<string, unknown> = {}) =>
  makeFlow(
    [
      { id: 'hello', type: 'say', text: 'Hello.', next: 'ask' },
      { id: 'ask', type: 'gather', prompt: 'Your number?', variable: 'n', input: ['dtmf', 'speech'], retries: 0, next: 'bye' },
      { id: 'desk', type: 'say', text: 'Putting you through.', next: 'bye' },
      { id: 'bye', type: 'end', text: 'Bye.' },
    ],
    { ...SETTINGS, ...settings },
  );

describe('flow fallbacks: one path for every failure', () => {
  it('a missing failure edge: fallbackMessage with the call variables, then hang up', async () => {
    const h = harness(askFlow(), { inputs: [timeout] });
    const result = await h.interpreter.run();
    expect(result).toEqual({ outcome: 'failed', reason: 'gather_failed', lastNodeId: 'ask' });
    expect(h.port.texts.at(-1)).toBe('Sorry, please call Maple Clinic again.');
    expect(h.port.said.at(-1)!.options).toEqual({ interruptible: false, cacheable: false });
    expect(h.port.hangups).toEqual(['fallback']);
  });

  it('a missing failure edge with a fallbackNode goes there', async () => {
    const h = harness(askFlow({ fallbackNode: 'desk' }), { inputs: [timeout] });
    expect(await h.interpreter.run()).toMatchObject({ outcome: 'completed' });
    expect(h.nodesEntered()).toEqual(['hello', 'ask', 'desk', 'bye']);
    expect(h.interpreter.snapshot().counters.fallbacks).toBe(1);
  });

  it('the LLM failing for good: the fallback message with the call variables', async () => {
    const flow = makeFlow([{ id: 'chat', type: 'conversation', prompt: 'Help.', speakFirst: true }], { systemPrompt: 's', ...SETTINGS });
    const h = harness(flow, { llm: new ScriptedLlm([{ error: 'server_error' }]) });
    expect(await h.interpreter.run()).toMatchObject({ outcome: 'failed', reason: 'llm_failed' });
    expect(h.port.texts).toEqual(['Sorry, please call Maple Clinic again.']);
  });

  it('speech input lost (stt_failed) while listening: the fallbackNode, transcript kept', async () => {
    const h = harness(askFlow({ fallbackNode: 'desk' }), { inputs: [BLOCK] });
    h.port.onSay = (text) => {
      if (text === 'Your number?') queueMicrotask(() => h.interpreter.fail('stt_failed'));
    };
    expect(await h.interpreter.run()).toMatchObject({ outcome: 'completed' });
    expect(h.nodesEntered()).toEqual(['hello', 'ask', 'desk', 'bye']);
    expect(h.port.texts).toEqual(['Hello.', 'Your number?', 'Putting you through.', 'Bye.']);
    expect(h.interpreter.snapshot().transcript.map((t) => t.text)).toContain('Hello.');
  });

  it('speech input lost without a fallbackNode: the message with the call variables, outcome failed/stt_failed', async () => {
    const h = harness(askFlow(), { inputs: [BLOCK] });
    h.port.onSay = (text) => {
      if (text === 'Your number?') queueMicrotask(() => h.interpreter.fail('stt_failed'));
    };
    expect(await h.interpreter.run()).toEqual({ outcome: 'failed', reason: 'stt_failed', lastNodeId: 'ask' });
    expect(h.port.texts.at(-1)).toBe('Sorry, please call Maple Clinic again.');
    expect(h.port.hangups).toEqual(['fallback']);
  });

  it('speech output lost (tts_failed): the message with the call variables, never the fallbackNode', async () => {
    const h = harness(askFlow({ fallbackNode: 'desk' }), { inputs: [dtmf('1')] });
    h.port.onSay = (text) => {
      if (text === 'Hello.') h.interpreter.fail('tts_failed');
    };
    expect(await h.interpreter.run()).toEqual({ outcome: 'failed', reason: 'tts_failed', lastNodeId: 'hello' });
    expect(h.port.texts).toEqual(['Hello.', 'Sorry, please call Maple Clinic again.']);
    expect(h.port.said[0]!.result.outcome).toBe('aborted');
    expect(h.port.hangups).toEqual(['fallback']);
    expect(h.nodesEntered()).toEqual(['hello']);
  });

  it('a hang-up during a failure wins: nothing more is said', async () => {
    const h = harness(askFlow(), { inputs: [BLOCK] });
    h.port.onSay = (text) => {
      if (text === 'Your number?')
        queueMicrotask(() => {
          h.interpreter.fail('stt_failed');
          h.interpreter.abort('hangup');
        });
    };
    expect(await h.interpreter.run()).toMatchObject({ outcome: 'aborted', reason: 'hangup' });
    expect(h.port.texts).toEqual(['Hello.', 'Your number?']);
    expect(h.port.hangups).toEqual([]);
  });

  it('back from a transfer nobody took (resume failed): the fallbackNode, or the message when it came from there', async () => {
    const first = harness(askFlow({ fallbackNode: 'desk' }), { inputs: [speech('12')] });
    // Leave the AI in the middle of the fallback node, as a transfer does.
    first.port.onSay = (text) => {
      if (text === 'Bye.') first.interpreter.abort('transfer');
    };
    await first.interpreter.run();
    const saved = first.interpreter.snapshot();
    expect(snapshotNodeId(saved)).toBe('bye');
    expect(snapshotVariables(saved)).toMatchObject({ clinicName: 'Maple Clinic', n: '12' });

    const back = harness(askFlow({ fallbackNode: 'desk' }));
    expect(await back.interpreter.resume(saved, { failed: 'transfer_unavailable' })).toMatchObject({ outcome: 'completed' });
    expect(back.nodesEntered()).toEqual(['desk', 'bye']);

    const atDesk = harness(askFlow({ fallbackNode: 'desk' }), { inputs: [timeout] });
    atDesk.port.onSay = (text) => {
      if (text === 'Putting you through.') atDesk.interpreter.abort('transfer');
    };
    await atDesk.interpreter.run();
    expect(snapshotNodeId(atDesk.interpreter.snapshot())).toBe('desk');
    const again = harness(askFlow({ fallbackNode: 'desk' }));
    expect(await again.interpreter.resume(atDesk.interpreter.snapshot(), { failed: 'transfer_unavailable' })).toMatchObject({
      outcome: 'failed',
      reason: 'transfer_unavailable',
    });
    expect(again.port.texts).toEqual(['Sorry, please call Maple Clinic again.']);
  });

  it('a fallback node that fails itself ends with the message instead of looping', async () => {
    const flow = makeFlow(
      [
        { id: 'ask', type: 'gather', prompt: 'Number?', variable: 'n', input: ['dtmf'], retries: 0, next: 'ask' },
        { id: 'again', type: 'gather', prompt: 'Once more?', variable: 'n', input: ['dtmf'], retries: 0, next: 'again' },
      ],
      { ...SETTINGS, fallbackNode: 'again' },
    );
    const h = harness(flow, { inputs: Array(10).fill(timeout) });
    const result = await h.interpreter.run();
    expect(result).toMatchObject({ outcome: 'failed', reason: 'gather_failed', lastNodeId: 'again' });
    expect(h.port.texts.at(-1)).toBe('Sorry, please call Maple Clinic again.');
  });

  describe('every fallback taken is reported (flow.fallback): why, from where, and where to', () => {
    it('the LLM failing with a fallbackNode: the flow goes on there and ends completed, the event says so', async () => {
      const flow = makeFlow(
        [
          { id: 'chat', type: 'conversation', prompt: 'Help.', speakFirst: true },
          { id: 'desk', type: 'say', text: 'Putting you through.', next: 'bye' },
          { id: 'bye', type: 'end', text: 'Bye.' },
        ],
        { systemPrompt: 's', ...SETTINGS, fallbackNode: 'desk' },
      );
      const h = harness(flow, { llm: new ScriptedLlm([{ error: 'server_error' }]) });
      expect(await h.interpreter.run()).toMatchObject({ outcome: 'completed' });
      expect(h.eventsOf('flow.fallback')).toEqual([{ type: 'flow.fallback', reason: 'llm_failed', nodeId: 'chat', fallbackNode: 'desk' }]);
      // Reported before the fallback node is entered.
      const types = h.events.map((e) => (e.type === 'node.entered' ? `node.entered:${e.nodeId}` : e.type));
      expect(types.indexOf('flow.fallback')).toBeLessThan(types.indexOf('node.entered:desk'));
    });

    it('the message path: the LLM failing without a fallbackNode', async () => {
      const flow = makeFlow([{ id: 'chat', type: 'conversation', prompt: 'Help.', speakFirst: true }], { systemPrompt: 's', ...SETTINGS });
      const h = harness(flow, { llm: new ScriptedLlm([{ error: 'server_error' }]) });
      expect(await h.interpreter.run()).toMatchObject({ outcome: 'failed', reason: 'llm_failed' });
      expect(h.eventsOf('flow.fallback')).toEqual([{ type: 'flow.fallback', reason: 'llm_failed', nodeId: 'chat' }]);
    });

    it('a missing failure edge, then the fallback node failing itself: the node, then the message', async () => {
      const flow = makeFlow(
        [
          { id: 'ask', type: 'gather', prompt: 'Number?', variable: 'n', input: ['dtmf'], retries: 0, next: 'ask' },
          { id: 'again', type: 'gather', prompt: 'Once more?', variable: 'n', input: ['dtmf'], retries: 0, next: 'again' },
        ],
        { ...SETTINGS, fallbackNode: 'again' },
      );
      const h = harness(flow, { inputs: [timeout, timeout] });
      expect(await h.interpreter.run()).toMatchObject({ outcome: 'failed', reason: 'gather_failed' });
      expect(h.eventsOf('flow.fallback')).toEqual([
        { type: 'flow.fallback', reason: 'gather_failed', nodeId: 'ask', fallbackNode: 'again' },
        { type: 'flow.fallback', reason: 'gather_failed', nodeId: 'again' },
      ]);
    });

    it('speech input lost (stt_failed) without a fallbackNode: the message path reports it too', async () => {
      const h = harness(askFlow(), { inputs: [BLOCK] });
      h.port.onSay = (text) => {
        if (text === 'Your number?') queueMicrotask(() => h.interpreter.fail('stt_failed'));
      };
      await h.interpreter.run();
      expect(h.eventsOf('flow.fallback')).toEqual([{ type: 'flow.fallback', reason: 'stt_failed', nodeId: 'ask' }]);
    });

    it('a run that ends normally reports no fallback', async () => {
      const h = harness(askFlow({ fallbackNode: 'desk' }), { inputs: [dtmf('1')] });
      expect(await h.interpreter.run()).toMatchObject({ outcome: 'completed' });
      expect(h.eventsOf('flow.fallback')).toEqual([]);
    });
  });
});
