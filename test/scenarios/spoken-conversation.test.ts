import { afterEach, describe, expect, it } from 'vitest';
import type { CallEvent } from '../../src/calls/events.js';
import { CALLER, startHarness, type Harness } from './harness.js';

/**
 * Spoken calls end to end over the real protocols: the caller's words come
 * from the loopback Deepgram (real SDK), replies from the loopback OpenAI
 * (real SDK) streamed sentence by sentence into ElevenLabs, and the flows are
 * the shipped examples. Each conversation goes up to the flow's transfer
 * request; every answered turn carries the per-turn metrics (docs/architecture.md#per-turn-metrics).
 */
const CLINIC_NUMBER = '+15550100001';
const SUPPORT_NUMBER = '+15550100003';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const agentTurns = (events: CallEvent[]) =>
  events.filter((e): e is Extract<CallEvent, { type: 'turn.agent' }> => e.type === 'turn.agent');

async function waitAgentTurns(h: Harness, callSid: string, n: number, what: string) {
  await h.until(() => agentTurns(h.eventsOf(callSid)).length >= n, { what });
}

describe('spoken conversation', () => {
  it('clinic: questions answered by the LLM, then the front desk exit chosen by the LLM leads to the transfer request', async () => {
    h = await startHarness({
      speech: true,
      env: { PHONE_NUMBERS: `${CLINIC_NUMBER}=clinic` },
      warm: ['clinic'],
    });
    h.openai!.enqueue(
      { text: 'Hello! How can I help you today?' },
      { text: 'We are open from eight to six on weekdays. Is there anything else?' },
      { toolCalls: [{ name: 'speak_to_front_desk', arguments: { reason: 'caller asked for a person' } }] },
    );
    const call = await h.sim.placeCall({ from: CALLER, to: CLINIC_NUMBER });
    const sid = call.callSid;
    await waitAgentTurns(h, sid, 2, 'greeting and opening line');

    h.say('What are your opening hours?');
    await waitAgentTurns(h, sid, 3, 'the hours answer');
    h.say('Can I talk to someone at the front desk?');
    const record = await h.finish(call);

    const events = h.eventsOf(sid);
    expect(events.find((e) => e.type === 'transfer.requested')).toMatchObject({ mode: 'warm', target: { queue: 'front-desk' } });
    const nodes = events.flatMap((e) => (e.type === 'node.entered' ? [e.nodeId] : []));
    expect(nodes).toEqual(['greeting', 'reception', 'to-front-desk', 'desk-busy']);
    expect(record.turns.map((t) => [t.role, t.text])).toEqual([
      ['agent', 'Thank you for calling Maple Street Family Clinic. This call may be recorded.'],
      ['agent', 'Hello! How can I help you today?'],
      ['caller', 'What are your opening hours?'],
      ['agent', 'We are open from eight to six on weekdays. Is there anything else?'],
      ['caller', 'Can I talk to someone at the front desk?'],
      ['agent', "One moment, I'm connecting you with our front desk."],
      ['agent', "I'm sorry, the front desk is busy with other patients right now. Please call back in a few minutes. Goodbye."],
    ]);
    // The LLM saw the whole spoken transcript, each caller turn once.
    const last = h.openai!.requests[2]!.messages as { role: string; content: string }[];
    expect(last.filter((m) => m.role === 'user').map((m) => m.content)).toEqual([
      'What are your opening hours?',
      'Can I talk to someone at the front desk?',
    ]);
    // Sentences went to TTS one by one as the LLM produced them.
    expect(h.tts.requests.map((r) => r.text)).toEqual(
      expect.arrayContaining(['We are open from eight to six on weekdays.', 'Is there anything else?']),
    );

    // Per-turn metrics on the replies to caller turns, with their stored names (docs/architecture.md#per-turn-metrics).
    const answered = record.turns[3]!;
    expect(Object.keys(answered.metrics ?? {}).sort()).toEqual(
      ['endpointMs', 'llmFirstSentenceMs', 'llmFirstTokenMs', 'overheadMs', 'responseMs', 'ttsFirstByteMs'].sort(),
    );
    expect(agentTurns(events)[2]!.metrics).toEqual(answered.metrics);
    // The transfer announcement is a cached phrase: no LLM or TTS stage, still a response time.
    expect(record.turns[5]!.metrics).toMatchObject({ responseMs: expect.any(Number) });
    expect(record.turns[5]!.metrics?.ttsFirstByteMs).toBeUndefined();
    expect(record.outcome?.kind).toBe('completed');
    expect(call.protocolErrors).toEqual([]);
    // Deepgram got the caller's audio untouched, one connection per media stream (the caller held in
    // the front desk's conference between the two: nobody there, so back to the AI), each closed cleanly.
    const conn = h.dg!.connections[0]!;
    expect(h.dg!.connections).toHaveLength(2);
    expect(conn.query).toMatchObject({ encoding: 'mulaw', sample_rate: '8000', language: 'en-US', interim_results: 'true' });
    expect(conn.audio().every((b) => b === 0xff)).toBe(true);
    await h.dg!.until(() => conn.closed, 2000, 'Deepgram stream closed');
    expect(conn.controlMessages).toContainEqual({ type: 'CloseStream' });
  });

  it('after-hours flow in hours: the support conversation ends in the LLM-chosen transfer', async () => {
    h = await startHarness({
      speech: true,
      env: { PHONE_NUMBERS: `${SUPPORT_NUMBER}=after-hours` },
      warm: ['after-hours'],
    });
    h.openai!.enqueue(
      { text: 'Hi, this is Brightline support. What seems to be the problem?' },
      { text: "Let's restart your router. Unplug it, wait ten seconds, and plug it back in. Did that help?" },
      { toolCalls: [{ name: 'needs_technician', arguments: '{}' }] },
    );
    const call = await h.sim.placeCall({ from: CALLER, to: SUPPORT_NUMBER });
    const sid = call.callSid;
    await waitAgentTurns(h, sid, 2, 'opening line');
    h.say('My internet keeps dropping out.');
    await waitAgentTurns(h, sid, 3, 'router advice');
    h.say('I tried that already and it is still broken.');
    await h.until(() => h!.eventsOf(sid).some((e) => e.type === 'node.entered' && e.nodeId === 'callback-number'), {
      what: 'the callback offer after the transfer request',
    });
    await call.hangUp();
    const record = await h.finish(call);
    const events = h.eventsOf(sid);
    const nodes = events.flatMap((e) => (e.type === 'node.entered' ? [e.nodeId] : []));
    expect(nodes).toEqual(['greeting', 'first-line', 'to-support', 'offer-callback', 'callback-number']);
    expect(events.find((e) => e.type === 'transfer.requested')).toMatchObject({ target: { queue: 'support' } });
    expect(record.turns.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual([
      'My internet keeps dropping out.',
      'I tried that already and it is still broken.',
    ]);
    expect(record.turns.find((t) => t.text.startsWith("Let's restart"))?.metrics?.responseMs).toEqual(expect.any(Number));
  });
});
