import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runChat } from '../../../src/cli/chat.js';
import { MAX_AGENT_SPEECH_WITHOUT_INPUT_MS, MAX_STEPS_WITHOUT_INPUT, SPOKEN_CHARS_PER_SECOND } from '../../../src/flow/budget.js';
import { validateFlow } from '../../../src/flow/validator.js';
import { dtmf } from '../../support/scripted-port.js';
import { harness, makeFlow } from './harness.js';

/** The flow from the report: a say → branch → say cycle that never listens. */
const sayBranchCycle = () =>
  makeFlow(
    [
      { id: 'a', type: 'say', text: 'Hello again.', next: 'b' },
      { id: 'b', type: 'branch', branches: [{ if: { var: 'x', op: 'exists' }, to: 'e' }], else: 'a' },
      { id: 'e', type: 'end' },
    ],
    { fallbackMessage: 'Sorry, something went wrong. Goodbye.' },
  );

describe('per-call budget without caller input', () => {
  it('a say → branch → say cycle ends with the fallback after the step budget (every say used to reset the guard)', async () => {
    const h = harness(sayBranchCycle());
    const result = await h.interpreter.run();
    expect(result).toMatchObject({ outcome: 'failed', reason: 'loop' });
    expect(h.port.texts.at(-1)).toBe('Sorry, something went wrong. Goodbye.');
    expect(h.port.texts.length).toBeLessThanOrEqual(MAX_STEPS_WITHOUT_INPUT / 2 + 2);
    expect(h.port.hangups).toEqual(['fallback']);
    expect(h.eventsOf('flow.ended')).toEqual([expect.objectContaining({ outcome: 'failed', reason: 'loop' })]);
  });

  it('agent-only speech is limited too: a long chain of announcements ends with the fallback', async () => {
    // Each say is a third of the budget (estimated from its length on a text channel).
    const chars = Math.ceil(((MAX_AGENT_SPEECH_WITHOUT_INPUT_MS / 3 + 1000) / 1000) * SPOKEN_CHARS_PER_SECOND);
    const long = 'a'.repeat(chars);
    const flow = makeFlow(
      [
        { id: 's1', type: 'say', text: long, next: 's2' },
        { id: 's2', type: 'say', text: long, next: 's3' },
        { id: 's3', type: 'say', text: long, next: 's4' },
        { id: 's4', type: 'say', text: 'never said', next: 'e' },
        { id: 'e', type: 'end' },
      ],
      { fallbackMessage: 'Sorry.' },
    );
    const h = harness(flow);
    expect(await h.interpreter.run()).toMatchObject({ outcome: 'failed', reason: 'agent_only_speech' });
    expect(h.port.texts).toEqual([long, long, long, 'Sorry.']);
  });

  it('listening to the caller refills the budget: a loop through a gather runs as long as the caller answers', async () => {
    // Each turn is 3 steps: without refills these turns would overrun the step budget.
    const turns = Math.ceil(MAX_STEPS_WITHOUT_INPUT / 3) + 10;
    const flow = makeFlow([
      { id: 'g', type: 'gather', prompt: 'Key?', variable: 'k', input: ['dtmf'], digits: { min: 1, max: 1, terminator: 'none' }, next: 'b' },
      { id: 'b', type: 'branch', branches: [{ if: { var: 'k', op: 'eq', value: '9' }, to: 'e' }], else: 's' },
      { id: 's', type: 'say', text: 'Again.', next: 'g' },
      { id: 'e', type: 'end', text: 'Done.' },
    ]);
    const h = harness(flow, { inputs: [...Array.from({ length: turns }, () => dtmf('1')), dtmf('9')] });
    expect(await h.interpreter.run()).toMatchObject({ outcome: 'completed' });
    expect(h.port.texts.at(-1)).toBe('Done.');
  });

  it('the validator refuses the cycle (LOOP_WITHOUT_INPUT) so it cannot be published', () => {
    const result = validateFlow(sayBranchCycle());
    expect(result.errors.map((e) => [e.code, e.nodeId, e.path])).toEqual([['LOOP_WITHOUT_INPUT', 'a', '$.nodes[0]']]);
  });

  it('npm run chat ends the cycle with the fallback instead of printing for ever', async () => {
    const input = new PassThrough();
    let text = '';
    const output = new Writable({
      write(chunk: Buffer, _enc, cb) {
        text += chunk.toString();
        cb();
      },
    });
    const result = await runChat({ flow: sayBranchCycle(), slug: 'loop', input, output, env: {} });
    input.end();
    expect(result).toMatchObject({ outcome: 'failed', reason: 'loop' });
    expect(text).toContain('Sorry, something went wrong. Goodbye.');
    expect(text.split('Hello again.').length - 1).toBeLessThanOrEqual(MAX_STEPS_WITHOUT_INPUT / 2);
  });
});
