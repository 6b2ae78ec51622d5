import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { createInterpreter } from '../../../src/flow/interpreter.js';
import { copySnapshot, type InterpreterSnapshot } from '../../../src/flow/snapshot.js';
import { ScriptedLlm } from '../../../src/providers/llm/fake.js';
import { ScriptedPort, speech } from '../../support/scripted-port.js';
import { AGENT, CALL, harness, makeFlow } from './harness.js';

/**
 * Snapshots share the transcript's entries (frozen) instead of copying them at
 * every checkpoint (src/flow/snapshot.ts copySnapshot); everything a later step
 * changes in place is copied, so no saved snapshot ever sees a later change.
 */

const flow = makeFlow(
  [
    { id: 'greet', type: 'say', text: 'Hello {{order.id}}', next: 'chat' },
    {
      id: 'chat',
      type: 'conversation',
      prompt: 'Help with order {{order.id}} ({{order.status}}).',
      maxTurns: 3,
      onMaxTurns: 'bye',
      tools: [{ name: 'lookup', description: 'd', url: 'http://127.0.0.1:9/x', save: { found: 'order', count: 'n' } }],
    },
    { id: 'bye', type: 'end', text: 'Bye.' },
  ],
  { systemPrompt: 's' },
);

function call() {
  // The second reply is cut off by the caller: its entry is appended with heardText and interrupted already set.
  const llm = new ScriptedLlm([
    { toolCalls: [{ name: 'lookup', arguments: {} }] },
    { text: 'It ships today.' },
    { text: ['It will ', 'arrive ', 'tomorrow.'] },
    { text: 'Anything else?' },
  ]);
  const raw: InterpreterSnapshot[] = [];
  const atTheTime: unknown[] = [];
  const port = new ScriptedPort({ inputs: [speech('Where is my order?'), speech('When?'), speech('Thanks')] });
  // The second reply is spoken third (greeting, first reply): cut off after two chunks.
  port.interrupt(2, { outcome: 'interrupted', afterChunks: 2 });
  const interpreter = createInterpreter({
    flow,
    agent: AGENT,
    call: CALL,
    port,
    llm,
    clock: new ManualClock(),
    http: async () => new Response('{"order":{"id":7,"lines":[{"sku":"a"}]},"n":1}', { status: 200 }),
    onSnapshot: (s) => {
      raw.push(s);
      atTheTime.push(JSON.parse(JSON.stringify(s)));
    },
  });
  const h = { interpreter, port };
  return { h, raw, atTheTime };
}

describe('interpreter snapshots', () => {
  it('no snapshot changes after it was taken: transcript, tool log, counters, variables (object values too)', async () => {
    const { h, raw, atTheTime } = call();
    // Object values whose dotted names a template scope writes into (src/flow/interpreter.ts setPath).
    const result = await h.interpreter.run({ order: { id: 7 }, 'order.status': 'open' });
    expect(result.outcome).toBe('completed');
    expect(raw.length).toBeGreaterThan(8);
    expect(raw.some((s) => s.position?.step.type === 'conversation' && s.position.step.toolLog.length > 0)).toBe(true);
    expect(raw.at(-1)!.transcript.some((e) => e.interrupted)).toBe(true);
    expect(raw.map((s) => JSON.parse(JSON.stringify(s)))).toEqual(atTheTime);
  });

  it('transcript entries are frozen and shared between snapshots; the array is each snapshot own', async () => {
    const { h, raw } = call();
    await h.interpreter.run();
    const first = raw.find((s) => s.transcript.length > 0)!;
    const last = raw.at(-1)!;
    expect(first.transcript.length).toBeLessThan(last.transcript.length);
    expect(last.transcript[0]).toBe(first.transcript[0]);
    expect(last.transcript).not.toBe(first.transcript);
    expect(last.transcript.every((e) => Object.isFrozen(e))).toBe(true);
    expect(() => {
      (last.transcript[0] as { text: string }).text = 'changed';
    }).toThrow(TypeError);
    expect(h.interpreter.snapshot().transcript[0]!.text).toBe('Hello ');
  });

  it('a snapshot as handed out (frozen entries, not through JSON) resumes and its transcript goes on', async () => {
    const { h, raw } = call();
    await h.interpreter.run();
    const saved = raw.find((s) => s.position?.step.type === 'conversation' && s.position.step.phase === 'listen' && s.position.step.turns === 1)!;
    const before = JSON.parse(JSON.stringify(saved)) as InterpreterSnapshot;
    const b = harness(flow, { llm: new ScriptedLlm([{ text: 'Sure.' }, { text: 'Done.' }]), inputs: [speech('Again'), speech('Ok')] });
    expect((await b.interpreter.resume(saved)).outcome).toBe('completed');
    const after = b.interpreter.snapshot();
    expect(after.transcript.slice(0, before.transcript.length)).toEqual(before.transcript);
    expect(after.transcript.length).toBeGreaterThan(before.transcript.length);
    expect(JSON.parse(JSON.stringify(saved))).toEqual(before);
  });

  it('copySnapshot equals a deep copy of the state', () => {
    const state: InterpreterSnapshot = {
      schemaVersion: 1,
      agent: { id: 'a', slug: 's', name: 'n', version: 2 },
      call: { sid: 'CA1', from: '+1', to: '+2' },
      status: 'ended',
      result: { outcome: 'completed', reason: 'r', lastNodeId: 'x' },
      position: { nodeId: 'x', step: { type: 'conversation', phase: 'reply', turns: 1, spokeFirst: true, toolLog: [{ at: 1, messages: [{ role: 'tool', toolCallId: 'c', content: '{}' }] }] } },
      previousNodeId: 'w',
      variables: { a: 'x', b: 1, c: null, d: { e: [1, { f: 2 }] } },
      transcript: [{ role: 'caller', text: 'hi', nodeId: 'x', at: 5 }],
      counters: { steps: 1, llmRequests: 2, callerTurns: 3, agentTurns: 4, fallbacks: 0, resumes: 1, visits: { x: 1 } },
      callStartedAt: 1,
      businessHoursChecked: true,
      updatedAt: 9,
    };
    const copy = copySnapshot(state);
    expect(copy).toEqual(structuredClone(state));
    expect(copy.variables.d).not.toBe(state.variables.d);
    expect(copy.counters.visits).not.toBe(state.counters.visits);
    expect(copy.position!.step).not.toBe(state.position!.step);
  });
});
