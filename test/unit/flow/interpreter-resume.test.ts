import { describe, expect, it } from 'vitest';
import { createInterpreter } from '../../../src/flow/interpreter.js';
import type { InterpreterSnapshot } from '../../../src/flow/snapshot.js';
import { ManualClock } from '../../../src/core/clock.js';
import { ScriptedLlm } from '../../../src/providers/llm/fake.js';
import { ScriptedPort, dtmf, speech, timeout } from '../../support/scripted-port.js';
import { AGENT, harness, makeFlow } from './harness.js';

/** Every resume goes through JSON, as a stored snapshot would. */
const viaJson = (s: InterpreterSnapshot): unknown => JSON.parse(JSON.stringify(s));

function pick(snapshots: InterpreterSnapshot[], pred: (s: InterpreterSnapshot) => boolean): unknown {
  const found = snapshots.find(pred);
  if (!found) throw new Error('no snapshot matched');
  return viaJson(found);
}

describe('snapshot → resume in the middle of every node type', () => {
  it('say: a say cut off by abort is spoken again, then the flow moves on', async () => {
    const flow = makeFlow([{ id: 's', type: 'say', text: 'Hello', next: 'e' }, { id: 'e', type: 'end', text: 'Bye' }]);
    const a = harness(flow);
    a.port.onSay = () => a.interpreter.abort('assume');
    await a.interpreter.run();
    const b = harness(flow);
    expect((await b.interpreter.resume(viaJson(a.interpreter.snapshot()))).outcome).toBe('completed');
    expect(b.port.texts).toEqual(['Hello', 'Bye']);
    expect(b.eventsOf('node.entered')[0]).toEqual({ type: 'node.entered', nodeId: 's', nodeType: 'say', resumed: true });
    // The transcript carries the interrupted first attempt and the new turns.
    expect(b.interpreter.snapshot().transcript.map((t) => t.text)).toEqual(['Hello', 'Hello', 'Bye']);
    expect(b.interpreter.snapshot().counters.resumes).toBe(1);
  });

  const convFlow = makeFlow(
    [
      {
        id: 'chat',
        type: 'conversation',
        prompt: 'p',
        speakFirst: true,
        maxTurns: 2,
        onMaxTurns: 'limit',
        tools: [{ name: 'lookup', description: 'd', url: 'http://127.0.0.1:9/x' }],
      },
      { id: 'limit', type: 'end', text: 'limit' },
    ],
    { systemPrompt: 's' },
  );
  const http = async () => new Response('{"n":1}', { status: 200 });

  it('conversation (listening): does not speak first again and keeps counting turns', async () => {
    const a = harness(convFlow, { llm: new ScriptedLlm([{ text: 'Hi!' }, { text: 'One.' }]), inputs: [speech('first')] });
    await a.interpreter.run(); // the caller hangs up at the second listen
    const saved = pick(a.snapshots, (s) => s.position?.step.type === 'conversation' && s.position.step.phase === 'listen' && (s.position.step as { turns: number }).turns === 1);
    const llm = new ScriptedLlm([{ text: 'Two.' }]);
    const b = harness(convFlow, { llm, inputs: [speech('second')] });
    await b.interpreter.resume(saved);
    expect(b.port.log).toEqual(['listen', 'say:Two.', 'say:limit', 'hangup:completed']);
    expect(llm.requests[0]!.messages.slice(1).map((m) => m.content)).toEqual(['Hi!', 'first', 'One.', 'second']);
  });

  it('conversation (reply pending): answers the recorded caller turn without listening first', async () => {
    const a = harness(convFlow, { llm: new ScriptedLlm([{ text: 'Hi!' }], { whenEmpty: { error: 'server_error' } }), inputs: [speech('question')] });
    await a.interpreter.run();
    const saved = pick(a.snapshots, (s) => s.position?.step.type === 'conversation' && s.position.step.phase === 'reply');
    const llm = new ScriptedLlm([{ text: 'Answer.' }]);
    const b = harness(convFlow, { llm });
    await b.interpreter.resume(saved);
    expect(b.port.log[0]).toBe('say:Answer.');
    expect(llm.requests[0]!.messages.at(-1)).toEqual({ role: 'user', content: 'question' });
  });

  it('conversation (between tool rounds): the tool results of this node survive the resume', async () => {
    const a = harness(convFlow, {
      http,
      llm: new ScriptedLlm([{ text: 'Hi!' }, { toolCalls: [{ name: 'lookup', id: 't1' }] }], { whenEmpty: { error: 'server_error' } }),
      inputs: [speech('look it up')],
    });
    await a.interpreter.run();
    const saved = pick(a.snapshots, (s) => s.position?.step.type === 'conversation' && (s.position.step as { toolLog: unknown[] }).toolLog.length === 1);
    const llm = new ScriptedLlm([{ text: 'It is 1.' }]);
    const b = harness(convFlow, { llm, http });
    await b.interpreter.resume(saved);
    expect(llm.requests[0]!.messages.slice(-2)).toEqual([
      { role: 'assistant', content: '', toolCalls: [{ id: 't1', name: 'lookup', arguments: '{}' }] },
      { role: 'tool', toolCallId: 't1', content: '{"status":200,"data":{"n":1}}' },
    ]);
  });

  it('gather: resumes at the same attempt, so retries already used stay used', async () => {
    const flow = makeFlow([
      { id: 'g', type: 'gather', prompt: 'PIN?', variable: 'pin', input: ['dtmf'], retries: 1, next: 'ok', onFailure: 'fail' },
      { id: 'ok', type: 'end', text: 'ok {{pin}}' },
      { id: 'fail', type: 'end', text: 'fail' },
    ]);
    const a = harness(flow, { inputs: [timeout] });
    await a.interpreter.run();
    const saved = pick(a.snapshots, (s) => s.position?.step.type === 'gather' && (s.position.step as { attempt: number }).attempt === 1);
    const b = harness(flow, { inputs: [timeout] });
    await b.interpreter.resume(saved);
    expect(b.port.texts).toEqual(['PIN?', 'fail']);
    const c = harness(flow, { inputs: [dtmf('007')] });
    await c.interpreter.resume(saved);
    expect(c.port.texts).toEqual(['PIN?', 'ok 007']);
  });

  it('branch and http: resumed at entry they evaluate with the saved variables', async () => {
    const flow = makeFlow([
      { id: 'g', type: 'gather', prompt: 'Key?', variable: 'k', input: ['dtmf'], next: 'h' },
      { id: 'h', type: 'http', url: 'http://127.0.0.1:9/k/{{k}}', save: { n: 'n' }, next: 'b', onError: 'bad' },
      { id: 'b', type: 'branch', branches: [{ if: { var: 'n', op: 'gt', value: 0 }, to: 'yes' }], else: 'bad' },
      { id: 'yes', type: 'end', text: 'yes {{k}}' },
      { id: 'bad', type: 'end', text: 'bad' },
    ]);
    const urls: string[] = [];
    const fetchLog = async (url: string) => {
      urls.push(url);
      return new Response('{"n":5}', { status: 200 });
    };
    const a = harness(flow, { inputs: [dtmf('9')], http: fetchLog });
    await a.interpreter.run();
    const atHttp = pick(a.snapshots, (s) => s.position?.nodeId === 'h');
    const atBranch = pick(a.snapshots, (s) => s.position?.nodeId === 'b');

    const b = harness(flow, { http: fetchLog });
    await b.interpreter.resume(atHttp);
    expect(urls).toEqual(['http://127.0.0.1:9/k/9', 'http://127.0.0.1:9/k/9']);
    expect(b.port.texts).toEqual(['yes 9']);

    const c = harness(flow, { http: fetchLog });
    await c.interpreter.resume(atBranch);
    expect(urls).toHaveLength(2);
    expect(c.port.texts).toEqual(['yes 9']);
  });

  const xferFlow = makeFlow([
    { id: 'hi', type: 'say', text: 'Hi.', next: 'x' },
    { id: 'x', type: 'transfer', target: { queue: 'q' }, announce: 'Connecting.', onUnavailable: 'e' },
    { id: 'e', type: 'end', text: 'bye' },
  ]);

  it('transfer: after the announcement, a resume requests the transfer without announcing again', async () => {
    const a = harness(xferFlow);
    await a.interpreter.run();
    const saved = pick(a.snapshots, (s) => s.position?.step.type === 'transfer' && (s.position.step as { phase: string }).phase === 'request');
    const b = harness(xferFlow);
    expect((await b.interpreter.resume(saved)).outcome).toBe('transferred');
    expect(b.port.log).toEqual(['transfer']);
  });

  it('hand-back after a finished transfer starts at start (or `at`) keeping transcript and variables', async () => {
    const a = harness(xferFlow);
    await a.interpreter.run();
    const ended = viaJson(a.interpreter.snapshot());
    expect((ended as InterpreterSnapshot).status).toBe('ended');
    const b = harness(xferFlow, { port: new ScriptedPort({ transfers: [{ outcome: 'unavailable', reason: 'busy' }] }) });
    await b.interpreter.resume(ended, { at: 'e' });
    expect(b.port.texts).toEqual(['bye']);
    const transcript = b.interpreter.snapshot().transcript.map((t) => `${t.role}:${t.text}`);
    expect(transcript).toEqual(['agent:Hi.', 'agent:Connecting.', 'system:Transferred to queue q.', 'agent:bye']);
    expect(b.interpreter.snapshot().variables['caller.number']).toBe('+15550100999');

    const c = harness(xferFlow, { port: new ScriptedPort({ transfers: [{ outcome: 'unavailable', reason: 'busy' }] }) });
    await c.interpreter.resume(ended);
    expect(c.nodesEntered()).toEqual(['hi', 'x', 'e']);
  });

  it('end: a resume at the end node says goodbye and hangs up', async () => {
    const flow = makeFlow([{ id: 'e', type: 'end', text: 'Bye' }]);
    const a = harness(flow);
    await a.interpreter.run();
    const saved = pick(a.snapshots, (s) => s.position?.nodeId === 'e' && s.status === 'running');
    const b = harness(flow);
    await b.interpreter.resume(saved);
    expect(b.port.log).toEqual(['say:Bye', 'hangup:completed']);
  });

  it('another agent takes over from its own start, with the caller transcript in its prompts', async () => {
    const a = harness(xferFlow);
    await a.interpreter.run();
    const other = makeFlow([{ id: 'c', type: 'conversation', prompt: 'help', speakFirst: true }], { systemPrompt: 's' });
    const llm = new ScriptedLlm([{ text: 'I am the other agent.' }]);
    const port = new ScriptedPort();
    const it2 = createInterpreter({ flow: other, agent: { ...AGENT, id: 'agent-2', name: 'Other' }, port, llm, clock: new ManualClock() });
    await it2.resume(viaJson(a.interpreter.snapshot()));
    expect(port.texts[0]).toBe('I am the other agent.');
    expect(llm.requests[0]!.messages.slice(1).map((m) => m.content)).toEqual(['Hi.', 'Connecting.', 'Transferred to queue q.']);
    expect(it2.snapshot().agent.id).toBe('agent-2');
  });

  it('a bad snapshot is a clear error, not a crash mid-call', async () => {
    const flow = makeFlow([{ id: 'e', type: 'end' }]);
    await expect(harness(flow).interpreter.resume({ nope: true })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: 'invalid interpreter snapshot' });
    await expect(harness(flow).interpreter.resume({ schemaVersion: 99 })).rejects.toThrow(/schemaVersion 99/);
  });
});
