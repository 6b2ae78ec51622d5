import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { ScriptedLlm } from '../../../src/providers/llm/fake.js';
import { BLOCK, ScriptedPort, speech, timeout } from '../../support/scripted-port.js';
import { harness, makeFlow } from './harness.js';

const chatFlow = (settings: Parameters<typeof makeFlow>[1] = {}) =>
  makeFlow([{ id: 'chat', type: 'conversation', prompt: 'p', exits: [{ when: 'done', to: 'bye' }] }, { id: 'bye', type: 'end' }], {
    systemPrompt: 's',
    ...settings,
  });

describe('silence', () => {
  it('reprompts after repromptAfterMs, then hangs up after hangupAfterMs', async () => {
    const h = harness(chatFlow({ silence: { repromptAfterMs: 8000, reprompt: 'Still there?', hangupAfterMs: 20000 } }), { inputs: [timeout, timeout] });
    expect(await h.interpreter.run()).toEqual({ outcome: 'hangup', reason: 'silence', lastNodeId: 'chat' });
    expect(h.port.log).toEqual(['listen', 'say:Still there?', 'listen', 'hangup:silence']);
    expect(h.port.listens.map((l) => l.timeoutMs)).toEqual([8000, 12000]);
    expect(h.port.said[0]!.options).toEqual({ interruptible: true, cacheable: true });
  });

  it('speech after the reprompt carries on normally', async () => {
    const llm = new ScriptedLlm([{ toolCalls: [{ name: 'exit_bye' }] }]);
    const h = harness(chatFlow(), { llm, inputs: [timeout, speech('sorry, yes')] });
    expect((await h.interpreter.run()).outcome).toBe('completed');
    expect(h.port.texts).toEqual(['Are you still there?']);
  });

  it('hangupAfterMs no longer than repromptAfterMs hangs up without a reprompt', async () => {
    const h = harness(chatFlow({ silence: { repromptAfterMs: 8000, hangupAfterMs: 5000 } }), { inputs: [timeout] });
    expect((await h.interpreter.run()).reason).toBe('silence');
    expect(h.port.listens.map((l) => l.timeoutMs)).toEqual([5000]);
    expect(h.port.said).toHaveLength(0);
  });
});

describe('maxCallSeconds', () => {
  it('ends with max_duration when the clock passes the limit, saying nothing more', async () => {
    const clock = new ManualClock();
    const h = harness(chatFlow({ maxCallSeconds: 60 }), { clock, inputs: [BLOCK] });
    const run = h.interpreter.run();
    await clock.advance(59_000);
    expect(h.port.hangups).toEqual([]);
    await clock.advance(1_000);
    expect(await run).toEqual({ outcome: 'max_duration', reason: 'max_call_seconds', lastNodeId: 'chat' });
    expect(h.port.said).toHaveLength(0);
    expect(h.port.hangups).toEqual(['max_duration']);
  });

  it('a resumed call counts from the original call start', async () => {
    const clock = new ManualClock();
    const first = harness(chatFlow({ maxCallSeconds: 60 }), { clock, inputs: [BLOCK] });
    const run = first.interpreter.run();
    await clock.advance(50_000);
    first.interpreter.abort('assume');
    expect((await run).outcome).toBe('aborted');
    const saved = JSON.parse(JSON.stringify(first.interpreter.snapshot())) as unknown;
    const second = harness(chatFlow({ maxCallSeconds: 60 }), { clock, inputs: [BLOCK] });
    const resumed = second.interpreter.resume(saved);
    await clock.advance(10_000);
    expect((await resumed).outcome).toBe('max_duration');
  });
});

describe('abort', () => {
  it('ends quietly, without saying or hanging up, and leaves the snapshot resumable', async () => {
    const port = new ScriptedPort({ inputs: [BLOCK] });
    const h = harness(chatFlow(), { port });
    const run = h.interpreter.run();
    await new Promise((r) => setImmediate(r));
    h.interpreter.abort('assume');
    expect(await run).toEqual({ outcome: 'aborted', reason: 'assume', lastNodeId: 'chat' });
    expect(port.said).toHaveLength(0);
    expect(port.hangups).toEqual([]);
    const snap = h.interpreter.snapshot();
    expect(snap.status).toBe('running');
    expect(snap.position).toMatchObject({ nodeId: 'chat', step: { phase: 'listen' } });
    h.interpreter.abort('again'); // after the end: a no-op
  });

  it('an external AbortSignal aborts the same way', async () => {
    const ctl = new AbortController();
    const h = harness(chatFlow(), { inputs: [BLOCK], signal: ctl.signal });
    const run = h.interpreter.run();
    await new Promise((r) => setImmediate(r));
    ctl.abort('shutdown');
    expect(await run).toMatchObject({ outcome: 'aborted', reason: 'shutdown' });
  });

  it('abort during a say stops at once', async () => {
    const flow = makeFlow([{ id: 's', type: 'say', text: 'Long text', next: 'e' }, { id: 'e', type: 'end', text: 'never' }]);
    const h = harness(flow);
    h.port.onSay = () => h.interpreter.abort('shutdown');
    expect((await h.interpreter.run()).outcome).toBe('aborted');
    expect(h.port.texts).toEqual(['Long text']);
    expect(h.port.said[0]!.result.outcome).toBe('aborted');
  });
});

describe('business hours', () => {
  const hours = (closedNode?: string) => ({
    timezone: 'America/New_York',
    weekly: { mon: [['09:00', '17:00']] as [string, string][] },
    ...(closedNode ? { closedNode } : {}),
  });
  const flowWith = (closedNode?: string) =>
    makeFlow(
      [
        { id: 'open', type: 'end', text: 'open' },
        { id: 'closed', type: 'end', text: 'We are closed.' },
      ],
      { businessHours: hours(closedNode) },
    );

  it('inside hours starts at start', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 15, 0)); // Mon 10:00 EST
    const h = harness(flowWith('closed'), { clock });
    await h.interpreter.run();
    expect(h.port.texts).toEqual(['open']);
  });

  it('outside hours goes to closedNode', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 23, 0)); // Mon 18:00 EST
    const h = harness(flowWith('closed'), { clock });
    await h.interpreter.run();
    expect(h.port.texts).toEqual(['We are closed.']);
  });

  it('outside hours without closedNode returns closed and leaves the channel to play the unavailable behaviour', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 13, 0)); // Mon 08:00 EST
    const h = harness(flowWith(), { clock });
    expect(await h.interpreter.run()).toEqual({ outcome: 'closed', reason: 'business_hours' });
    expect(h.port.said).toHaveLength(0);
    expect(h.port.hangups).toEqual([]);
  });

  it('is checked once at call start, not again when hours end mid-call', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 21, 59)); // Mon 16:59 EST
    const flow = makeFlow(
      [
        { id: 'g', type: 'gather', prompt: 'Key?', variable: 'k', input: ['dtmf'], next: 'open' },
        { id: 'open', type: 'end', text: 'open' },
        { id: 'closed', type: 'end', text: 'closed' },
      ],
      { businessHours: hours('closed') },
    );
    const h = harness(flow, {
      clock,
      inputs: [
        async () => {
          await clock.advance(120_000);
          return { kind: 'dtmf', digits: '1' };
        },
      ],
    });
    await h.interpreter.run();
    expect(h.port.texts).toEqual(['Key?', 'open']);
  });

  it('builtins now.* use the business-hours zone', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 6, 3, 30)); // Tue 03:30 UTC = Mon 22:30 EST
    const flow = makeFlow([{ id: 'e', type: 'end', text: '{{now.weekday}} {{now.date}} {{now.time}}' }], {
      businessHours: { timezone: 'America/New_York', weekly: { mon: [['00:00', '24:00']] } },
    });
    const h = harness(flow, { clock });
    await h.interpreter.run();
    expect(h.port.texts).toEqual(['Monday 2026-01-05 22:30']);
  });
});
