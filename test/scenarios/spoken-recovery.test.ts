import { afterEach, describe, expect, it } from 'vitest';
import { CALLER } from './harness.js';
import { FALLBACK, GREETING, TALK_NUMBER, agentTurnsDone, startTalkHarness, talkFlow, type TalkHarness } from './spoken-flows.js';

/**
 * Provider failures in the middle of a spoken call (docs/architecture.md#fallbacks): Deepgram
 * closed or silent → reconnect and the call goes on; Deepgram gone → the
 * flow's fallback; OpenAI 429 → retried, 500 or a stall → fallback (with the
 * filler covering the wait); ElevenLabs failing mid-reply → the cached
 * fallback message.
 */
let h: TalkHarness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});

async function callAndGreet(h: TalkHarness) {
  const call = await h.sim.placeCall({ from: CALLER, to: TALK_NUMBER });
  await agentTurnsDone(h, call.callSid, 1, 'greeting');
  return call;
}

describe('Deepgram recovery', () => {
  it('closed mid-call (1011): reconnects with replay, and the next turn is understood', async () => {
    h = await startTalkHarness();
    h.openai!.enqueue({ text: 'Sure, I can help with billing.' });
    const call = await callAndGreet(h);
    await h.until(() => h!.dg!.connections[0]!.bytesReceived > 8000, { what: '1 s of caller audio' });
    h.dg!.drop(1011);
    await h.until(() => h!.dg!.connections.length === 2 && h!.dg!.connections[1]!.bytesReceived > 0, { what: 'the reconnect' });
    h.say('I have a billing question.');
    await agentTurnsDone(h, call.callSid, 2, 'the answer');
    await call.hangUp();
    const record = await h.finish(call);
    expect(record.turns.map((t) => t.text)).toEqual([GREETING, 'I have a billing question.', 'Sure, I can help with billing.']);
    expect(h.dg!.connections[0]!.closeCode).toBe(1011);
    // Audio not covered by a final was replayed to the new connection (at most 5 s).
    expect(h.dg!.connections[1]!.query).toMatchObject({ encoding: 'mulaw' });
    expect(record.outcome?.kind).toBe('completed');
  });

  it('silent while audio flows: after 5 s without a message it reconnects and the call goes on', async () => {
    h = await startTalkHarness();
    h.openai!.enqueue({ text: 'Sure, I can help with billing.' });
    const call = await callAndGreet(h);
    h.dg!.goSilent();
    const silentAt = h.clock.now();
    await h.until(() => h!.dg!.connections.length === 2, { what: 'the watchdog reconnect', maxMs: 10_000 });
    const reconnectAfterMs = h.clock.now() - silentAt;
    expect(reconnectAfterMs).toBeGreaterThanOrEqual(4000);
    expect(reconnectAfterMs).toBeLessThan(7000);
    await h.until(() => h!.dg!.connections[1]!.bytesReceived > 0, { what: 'audio on the new connection' });
    h.say('I have a billing question.');
    await agentTurnsDone(h, call.callSid, 2, 'the answer');
    await call.hangUp();
    const record = await h.finish(call);
    expect(record.turns.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual(['I have a billing question.']);
  });

  it('gone for good: after the last try the flow fallback (message, then hang up)', async () => {
    h = await startTalkHarness();
    const call = await callAndGreet(h);
    await h.dg!.close();
    const record = await h.finish(call, 30_000);
    expect(record.turns.map((t) => t.text)).toEqual([GREETING, FALLBACK]);
    expect(record.outcome?.kind).toBe('failed');
    expect(h.openai!.requests).toHaveLength(0);
  });
});

describe('Deepgram gone, with a fallbackNode', () => {
  it('the flow resumes at the fallback node (a transfer) with its transcript', async () => {
    h = await startTalkHarness(talkFlow({ fallbackNode: true }));
    const call = await callAndGreet(h);
    await h.dg!.close();
    await h.until(() => h!.eventsOf(call.callSid).some((e) => e.type === 'transfer.requested'), { what: 'the fallback transfer', maxMs: 30_000 });
    const events = h.eventsOf(call.callSid);
    const nodes = events.flatMap((e) => (e.type === 'node.entered' ? [e.nodeId] : []));
    expect(nodes).toEqual(['hello', 'chat', 'desk']);
    expect(events.find((e) => e.type === 'transfer.requested')).toMatchObject({ target: { number: '+15550104444' } });
    // Nobody answers the dial: back to the AI, which has nowhere to go but the fallback message.
    const record = await h.finish(call, 30_000);
    expect(record.turns.map((t) => t.text).slice(0, 2)).toEqual([GREETING, 'Connecting you to a person.']);
    expect(call.events.find((e) => e.kind === 'dial')).toMatchObject({ number: '+15550104444' });
    // Both fallbacks are in the call's history: why, from where, where to.
    const fallbacks = [
      { reason: 'stt_failed', nodeId: 'chat', fallbackNode: 'desk' },
      { reason: 'transfer_unavailable', nodeId: 'desk' },
    ];
    expect(h.eventsOf(call.callSid).filter((e) => e.type === 'flow.fallback')).toEqual(fallbacks.map((f) => ({ type: 'flow.fallback', callSid: call.callSid, at: expect.any(Number), ...f })));
    expect(record.fallbacks).toEqual(fallbacks.map((f) => ({ ...f, at: expect.any(Number) })));
    await h.container.callRecorder.flush();
    const stored = await h.container.callHistory.events(call.callSid);
    expect(stored.filter((e) => e.type === 'flow.fallback')).toMatchObject(fallbacks);
  });
});

describe('OpenAI recovery', () => {
  it('429 then success: retried, the caller gets the answer', async () => {
    h = await startTalkHarness();
    h.openai!.enqueue({ status: 429, retryAfterMs: 100 }, { text: 'Our address is 12 Maple Street.' });
    const call = await callAndGreet(h);
    h.say('Where are you located?');
    await agentTurnsDone(h, call.callSid, 2, 'the answer');
    await call.hangUp();
    const record = await h.finish(call);
    expect(h.openai!.responses.map((r) => r.status)).toEqual([429, 200]);
    expect(record.turns.at(-1)).toMatchObject({ role: 'agent', text: 'Our address is 12 Maple Street.' });
    expect(record.turns.at(-1)!.metrics?.llmFirstTokenMs).toEqual(expect.any(Number));
  });

  it('500 on every try: the fallback message, then hang up', async () => {
    h = await startTalkHarness();
    h.openai!.enqueue({ status: 500 }, { status: 500 }, { status: 500 });
    const call = await callAndGreet(h);
    h.say('Where are you located?');
    const record = await h.finish(call, 30_000);
    expect(h.openai!.responses.every((r) => r.status === 500)).toBe(true);
    expect(record.turns.map((t) => t.text)).toEqual([GREETING, 'Where are you located?', FALLBACK]);
    expect(record.outcome?.kind).toBe('failed');
    expect(record.fallbacks).toEqual([{ reason: 'llm_failed', nodeId: 'chat', at: expect.any(Number) }]);
    await h.container.callRecorder.flush();
    const stored = await h.container.callHistory.events(call.callSid);
    expect(stored.filter((e) => e.type === 'flow.fallback')).toEqual([
      { type: 'flow.fallback', callSid: call.callSid, at: expect.any(Number), reason: 'llm_failed', nodeId: 'chat' },
    ]);
  });

  it('stall after headers (retried, stalls again): the filler plays at 1.5 s, the 4 s first-token deadline takes the fallback', async () => {
    h = await startTalkHarness();
    h.openai!.enqueue({ stallAfterChunks: 0 }, { stallAfterChunks: 0 });
    const call = await callAndGreet(h);
    h.say('Where are you located?');
    await h.until(() => h!.eventsOf(call.callSid).some((e) => e.type === 'turn.caller'), { what: 'the caller turn' });
    const turnAt = h.clock.now();
    await h.until(() => call.received.some((m) => m.event === 'media' && call.received.indexOf(m) > 0 && fillerStarted(call.received)), {
      what: 'the filler',
    });
    const fillerAfterMs = h.clock.now() - turnAt;
    expect(fillerAfterMs).toBeGreaterThanOrEqual(1400);
    expect(fillerAfterMs).toBeLessThan(2100);
    const record = await h.finish(call, 30_000);
    expect(await h.openai!.responses[0]!.ended).toBe('stalled');
    expect(await h.openai!.responses[1]!.ended).toBe('stalled');
    expect(h.openai!.responses).toHaveLength(2);
    expect(record.turns.map((t) => t.text)).toEqual([GREETING, 'Where are you located?', FALLBACK]);
    // The filler is not a turn of the conversation; it played once.
    expect(call.received.filter((m) => m.event === 'mark' && String((m.mark as { name: string }).name).startsWith('filler-'))).toHaveLength(1);
    expect(record.outcome?.kind).toBe('failed');
  });
});

/** True once media has arrived after the greeting's mark: the filler is the only audio before the fallback. */
function fillerStarted(received: Record<string, unknown>[]): boolean {
  const greetingMark = received.findIndex((m) => m.event === 'mark');
  return greetingMark >= 0 && received.slice(greetingMark + 1).some((m) => m.event === 'media');
}

describe('ElevenLabs failure mid-reply', () => {
  it('the second sentence fails: the cached fallback message plays and the call ends', async () => {
    h = await startTalkHarness();
    h.tts.setBehaviour((text) => (text.startsWith('Second') ? { status: 500 } : {}));
    h.openai!.enqueue({ text: 'First, the good news. Second, this sentence fails to synthesize.' });
    const call = await callAndGreet(h);
    h.say('Tell me the news.');
    const record = await h.finish(call, 30_000);
    expect(h.eventsOf(call.callSid).find((e) => e.type === 'tts.failed')).toMatchObject({ fallback: 'cached' });
    expect(record.outcome?.kind).toBe('tts_failed');
    const marks = call.received.filter((m) => m.event === 'mark');
    expect(call.marksReturned).toHaveLength(marks.length);
    expect(call.says()).toEqual([]);
  });
});
