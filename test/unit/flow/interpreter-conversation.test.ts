import { describe, expect, it } from 'vitest';
import { MAX_TOOL_ROUNDS } from '../../../src/flow/nodes/conversation.js';
import { ScriptedLlm } from '../../../src/providers/llm/fake.js';
import { ScriptedPort, dtmf, speech } from '../../support/scripted-port.js';
import { harness, makeFlow } from './harness.js';

const base = { systemPrompt: 'You are the Acme receptionist.' };

describe('conversation node', () => {
  it('streams the reply into say as chunks, and the LLM sees system + node prompt + transcript', async () => {
    const flow = makeFlow(
      [
        { id: 'greet', type: 'say', text: 'Welcome to Acme.', next: 'chat' },
        { id: 'chat', type: 'conversation', prompt: 'Answer questions about {{company}}.', exits: [{ when: 'the caller is done', to: 'bye' }] },
        { id: 'bye', type: 'end', text: 'Bye.' },
      ],
      { ...base, variables: { company: 'Acme' } },
    );
    const llm = new ScriptedLlm([{ text: ['We open ', 'at nine. ', 'Anything else?'] }, { toolCalls: [{ name: 'exit_bye' }] }]);
    const h = harness(flow, { llm, inputs: [speech('When do you open?'), speech("No, that's all")] });
    expect(await h.interpreter.run()).toEqual({ outcome: 'completed', lastNodeId: 'bye' });
    const reply = h.port.said[1]!;
    expect(reply.streamed).toBe(true);
    expect(reply.chunks).toEqual(['We open ', 'at nine. ', 'Anything else?']);
    expect(reply.options).toEqual({ interruptible: true, cacheable: false });
    const first = llm.requests[0]!;
    expect(first.messages[0]).toEqual({
      role: 'system',
      content: 'You are the Acme receptionist.\n\nInstructions for this part of the call:\nAnswer questions about Acme.',
    });
    expect(first.messages.slice(1)).toEqual([
      { role: 'assistant', content: 'Welcome to Acme.' },
      { role: 'user', content: 'When do you open?' },
    ]);
    expect(first.tools).toEqual([
      {
        name: 'exit_bye',
        description: 'Leave this part of the conversation when: the caller is done',
        parameters: { type: 'object', properties: { reason: { type: 'string', description: expect.any(String) } }, required: [] },
      },
    ]);
    expect(llm.requests[1]!.messages.slice(-2)).toEqual([
      { role: 'assistant', content: 'We open at nine. Anything else?' },
      { role: 'user', content: "No, that's all" },
    ]);
    expect(h.port.texts).toEqual(['Welcome to Acme.', 'We open at nine. Anything else?', 'Bye.']);
  });

  it('an exit leaves after the streamed text is spoken, with no further LLM call, and keeps the reason', async () => {
    const flow = makeFlow(
      [
        { id: 'chat', type: 'conversation', prompt: 'p', exits: [{ name: 'book', when: 'wants to book', to: 'xfer' }] },
        { id: 'xfer', type: 'transfer', target: { queue: 'sales' }, summary: 'Reason: {{exit.reason}}' },
      ],
      base,
    );
    const llm = new ScriptedLlm([{ text: 'Sure, let me connect you.', toolCalls: [{ name: 'book', arguments: { reason: 'book a table' } }] }]);
    const h = harness(flow, { llm, inputs: [speech('I want to book')] });
    expect((await h.interpreter.run()).outcome).toBe('transferred');
    expect(llm.requests).toHaveLength(1);
    expect(h.port.log).toEqual(['listen', 'say:Sure, let me connect you.', 'transfer']);
    expect(h.port.transfers[0]!.summary).toBe('Reason: book a table');
  });

  it('speakFirst opens the node without waiting for the caller', async () => {
    const flow = makeFlow([{ id: 'chat', type: 'conversation', prompt: 'p', speakFirst: true, exits: [{ when: 'done', to: 'bye' }] }, { id: 'bye', type: 'end' }], base);
    const llm = new ScriptedLlm([{ text: 'Hello! How can I help?' }, { toolCalls: [{ name: 'exit_bye' }] }]);
    const h = harness(flow, { llm, inputs: [speech('bye')] });
    await h.interpreter.run();
    expect(h.port.log).toEqual(['say:Hello! How can I help?', 'listen', 'hangup:completed']);
    expect(llm.requests[0]!.messages).toHaveLength(1);
  });

  it('maxTurns leaves via onMaxTurns after the last reply', async () => {
    const flow = makeFlow(
      [
        { id: 'chat', type: 'conversation', prompt: 'p', maxTurns: 2, onMaxTurns: 'human' },
        { id: 'human', type: 'end', text: 'Let me get a person.' },
      ],
      base,
    );
    const llm = new ScriptedLlm([{ text: 'A.' }, { text: 'B.' }]);
    const h = harness(flow, { llm, inputs: [speech('one'), speech('two'), speech('three')] });
    await h.interpreter.run();
    expect(h.port.texts).toEqual(['A.', 'B.', 'Let me get a person.']);
    expect(llm.requests).toHaveLength(2);
  });

  it('runs http tools, feeds the results back, saves variables, and caps the tool rounds', async () => {
    const calls: string[] = [];
    const http = async (url: string, init: RequestInit) => {
      calls.push(`${init.method} ${url} ${String(init.body ?? '')}`);
      return new Response(JSON.stringify({ slots: ['10:00', '11:00'], id: 'r1' }), { status: 200 });
    };
    const flow = makeFlow(
      [
        {
          id: 'chat',
          type: 'conversation',
          prompt: 'p',
          tools: [
            {
              name: 'find_slots',
              description: 'Find free slots',
              parameters: { date: { type: 'string', description: 'ISO date' }, party: { type: 'integer', required: false } },
              method: 'POST',
              url: 'http://127.0.0.1:9/slots?d={{args.date}}',
              body: { date: '{{args.date}}', caller: '{{caller.number}}' },
              save: { booking_id: 'id' },
            },
          ],
        },
      ],
      base,
    );
    const llm = new ScriptedLlm([
      { text: 'Let me check. ', toolCalls: [{ name: 'find_slots', arguments: { date: '2026-01-06' } }] },
      { text: 'We have 10 and 11.' },
    ]);
    const h = harness(flow, { llm, http, inputs: [speech('Any slots tomorrow?')] });
    await h.interpreter.run();
    expect(calls).toEqual(['POST http://127.0.0.1:9/slots?d=2026-01-06 {"date":"2026-01-06","caller":"+15550100999"}']);
    expect(h.port.texts).toEqual(['Let me check. ', 'We have 10 and 11.']);
    expect(llm.requests[0]!.tools!.map((t) => t.name)).toEqual(['find_slots']);
    expect(llm.requests[0]!.tools![0]!.parameters).toEqual({
      type: 'object',
      properties: { date: { type: 'string', description: 'ISO date' }, party: { type: 'integer' } },
      required: ['date'],
    });
    expect(llm.requests[1]!.messages.slice(-3)).toEqual([
      { role: 'assistant', content: 'Let me check. ' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'call_1_1', name: 'find_slots', arguments: '{"date":"2026-01-06"}' }] },
      { role: 'tool', toolCallId: 'call_1_1', content: '{"status":200,"data":{"slots":["10:00","11:00"],"id":"r1"}}' },
    ]);
    expect(h.interpreter.snapshot().variables.booking_id).toBe('r1');
    expect(h.eventsOf('tool.called')).toEqual([{ type: 'tool.called', nodeId: 'chat', name: 'find_slots', status: 200, ms: 0 }]);

    // A model that keeps calling tools is cut off: the last round offers no http tools.
    const greedy = new ScriptedLlm([], { whenEmpty: { toolCalls: [{ name: 'find_slots', arguments: { date: 'x' } }] } });
    const h2 = harness(flow, { llm: greedy, http, inputs: [speech('slots?')] });
    await h2.interpreter.run();
    expect(greedy.requests).toHaveLength(MAX_TOOL_ROUNDS + 1);
    expect(greedy.requests.at(-1)!.tools).toBeUndefined();
  });

  it('tool internals of earlier nodes are dropped, spoken turns are kept', async () => {
    const http = async () => new Response('{"ok":true}', { status: 200 });
    const tool = { name: 'lookup', description: 'd', url: 'http://127.0.0.1:9/x' };
    const flow = makeFlow(
      [
        { id: 'a', type: 'conversation', prompt: 'first', tools: [tool], exits: [{ when: 'next', to: 'b' }] },
        { id: 'b', type: 'conversation', prompt: 'second' },
      ],
      base,
    );
    const llm = new ScriptedLlm([
      { toolCalls: [{ name: 'lookup' }] },
      { text: 'Found it.', toolCalls: [{ name: 'exit_b' }] },
      { text: 'Second node here.' },
    ]);
    const h = harness(flow, { llm, http, inputs: [speech('hi'), speech('and now?')] });
    await h.interpreter.run();
    expect(llm.requests[1]!.messages.some((m) => m.role === 'tool')).toBe(true);
    const third = llm.requests[2]!.messages;
    expect(third.some((m) => m.role === 'tool' || (m.role === 'assistant' && m.toolCalls))).toBe(false);
    expect(third[0]!.content).toContain('second');
    expect(third.slice(1)).toEqual([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'Found it.' },
      { role: 'user', content: 'and now?' },
    ]);
  });

  it('a barge-in stops the LLM; the LLM later sees only the heard text', async () => {
    const flow = makeFlow([{ id: 'chat', type: 'conversation', prompt: 'p', exits: [{ when: 'x', to: 'bye' }] }, { id: 'bye', type: 'end' }], base);
    let aborted = false;
    const llm = new ScriptedLlm([
      {
        text: ['Our opening hours are ', 'nine to five ', 'on weekdays.'],
        toolCalls: [{ name: 'exit_bye' }],
        beforeChunk: (_i, req) => {
          req.signal?.addEventListener('abort', () => (aborted = true));
        },
      },
      { text: 'Sure.' },
    ]);
    const port = new ScriptedPort({ inputs: [speech('hours?'), speech('wait, on Saturday?')] });
    port.interrupt(0, { outcome: 'interrupted', afterChunks: 1, heardText: 'Our opening hours…' });
    const h = harness(flow, { llm, port });
    await h.interpreter.run();
    expect(aborted).toBe(true);
    // The exit in the interrupted reply is not taken; the caller's words come first.
    expect(llm.requests).toHaveLength(2);
    expect(llm.requests[1]!.messages.slice(1)).toEqual([
      { role: 'user', content: 'hours?' },
      { role: 'assistant', content: 'Our opening hours…' },
      { role: 'user', content: 'wait, on Saturday?' },
    ]);
    const entry = h.interpreter.snapshot().transcript[1]!;
    expect(entry).toMatchObject({ role: 'agent', interrupted: true, heardText: 'Our opening hours…' });
    expect(h.eventsOf('turn.agent')[0]).toMatchObject({ interrupted: true, heardText: 'Our opening hours…' });
  });

  it('knowledge-base passages for the latest caller text are in the system message', async () => {
    const flow = makeFlow([{ id: 'chat', type: 'conversation', prompt: 'p' }], {
      ...base,
      knowledgeBase: {
        topK: 1,
        documents: [
          { id: 'hours', title: 'Opening hours', text: 'We open at 9 on weekdays.\n\nOn Saturday we open at 10.' },
          { id: 'parking', text: 'Parking is free behind the building.' },
        ],
      },
    });
    const llm = new ScriptedLlm([{ text: 'Free parking.' }]);
    const h = harness(flow, { llm, inputs: [speech('Where can I park?')] });
    await h.interpreter.run();
    const system = llm.requests[0]!.messages[0]!.content;
    expect(system).toContain('[1] Parking is free behind the building.');
    expect(system).not.toContain('Saturday');
  });

  it('an LLM failure mid-reply: the spoken part is kept, then the fallback', async () => {
    const flow = makeFlow([{ id: 'chat', type: 'conversation', prompt: 'p' }], { ...base, fallbackMessage: 'Sorry.' });
    const llm = new ScriptedLlm([{ text: ['Let me ', 'see'], error: 'stall', errorAfterChunks: 1 }]);
    const h = harness(flow, { llm, inputs: [speech('hi')] });
    expect((await h.interpreter.run()).reason).toBe('llm_failed');
    expect(h.port.texts).toEqual(['Let me ', 'Sorry.']);
    expect(h.eventsOf('llm.failed')[0]).toMatchObject({ kind: 'stall' });
  });

  it('exit function names are sanitised and unique', async () => {
    const { exitFunctions } = await import('../../../src/flow/nodes/conversation.js');
    const flow = makeFlow([
      { id: 'c', type: 'conversation', prompt: 'p', exits: [{ when: 'a', to: 'x.y' }, { when: 'b', to: 'x.y' }, { name: 'custom', when: 'c', to: 'z' }] },
      { id: 'x.y', type: 'end' },
      { id: 'z', type: 'end' },
    ]);
    const node = flow.nodes[0]!;
    if (node.type !== 'conversation') throw new Error('bad fixture');
    expect(exitFunctions(node).map((e) => e.name)).toEqual(['exit_x_y', 'exit_x_y_2', 'custom']);
  });

  it('key presses during a gather show up for the LLM as pressed keys', async () => {
    const flow = makeFlow(
      [
        { id: 'g', type: 'gather', prompt: 'Account?', variable: 'acct', input: ['dtmf'], next: 'chat' },
        { id: 'chat', type: 'conversation', prompt: 'p', speakFirst: true },
      ],
      base,
    );
    const llm = new ScriptedLlm([{ text: 'Thanks.' }]);
    const h = harness(flow, { llm, inputs: [dtmf('0042')] });
    await h.interpreter.run();
    expect(llm.requests[0]!.messages.slice(1)).toEqual([
      { role: 'assistant', content: 'Account?' },
      { role: 'user', content: '(pressed keys: 0042)' },
    ]);
  });

  it('asks with the flow’s model for the primary and its secondaryModel for a secondary (conversation and gather extraction)', async () => {
    const flow = makeFlow(
      [
        { id: 'chat', type: 'conversation', prompt: 'Help.', exits: [{ when: 'done', to: 'ask' }] },
        { id: 'ask', type: 'gather', prompt: 'Which day?', variable: 'day', input: ['speech'], valueType: 'text', next: 'bye' },
        { id: 'bye', type: 'end', text: 'Bye.' },
      ],
      { llm: { model: 'primary-model', secondaryModel: 'secondary-model' } },
    );
    const llm = new ScriptedLlm([{ toolCalls: [{ name: 'exit_ask' }] }], { whenEmpty: { text: '{"value":"Monday"}' } });
    const h = harness(flow, { llm, inputs: [speech('I am done'), speech('Monday please')] });
    await h.interpreter.run();
    expect(llm.requests.length).toBeGreaterThan(0);
    for (const request of llm.requests) expect(request).toMatchObject({ model: 'primary-model', secondaryModel: 'secondary-model' });
  });
});
