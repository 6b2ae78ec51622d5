import { afterEach, describe, expect, it } from 'vitest';
import { CALLER } from './harness.js';
import { fakeTokens } from '../../src/testing/openai-server.js';
import { GREETING, NOTICE, TALK_NUMBER, agentTurnsDone, llmMessages, startTalkHarness, talkFlow, type TalkHarness } from './spoken-flows.js';

/**
 * Turn-taking on a live call (docs/architecture.md#turn-taking), over the real protocols: barge-in
 * clears first and keeps only what was heard; a backchannel never interrupts;
 * a second turn before the reply's first frame is joined into one LLM request;
 * audio that must not be cut is not, and the words spoken over it become the
 * next turn.
 */
let h: TalkHarness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});

const S1 = 'We offer checkups and general care for every member of the family, from babies to grandparents.';
const S2 = 'We also run vaccinations every weekday and a small laboratory for blood tests in the mornings.';
const S3 = 'Our pharmacy next door is open late.';

describe('barge-in', () => {
  it('clears first, aborts the reply, keeps only the heard words, then answers the interrupting question', async () => {
    h = await startTalkHarness();
    const reply = `${S1} ${S2} ${S3}`;
    // The LLM is still generating (stalled after sentence two) when the caller cuts in.
    h.openai!.enqueue(
      { text: reply, stallAfterChunks: 1 + fakeTokens(`${S1} ${S2}`).length + 1 },
      { text: 'Yes, we take most insurance plans.' },
    );
    const call = await h.sim.placeCall({ from: CALLER, to: TALK_NUMBER });
    const sid = call.callSid;
    await agentTurnsDone(h, sid, 1, 'greeting');
    h.say('Tell me about your services.');
    await h.until(() => h!.openai!.requests.length === 1, { what: 'the LLM request' });
    const before = call.audioBytes;
    // A little of the reply has played.
    await h.until(() => call.audioBytes > before + 2400, { what: 'the reply to start playing' });
    h.say('Wait, do you take insurance?');
    await agentTurnsDone(h, sid, 3, 'the insurance answer');
    await call.hangUp();
    const record = await h.finish(call);

    expect(call.clears).toBe(1);
    const bargeIn = h.eventsOf(sid).find((e) => e.type === 'barge_in');
    expect(bargeIn).toMatchObject({ reason: 'speech' });
    const heard = (bargeIn as { heardText: string }).heardText;
    expect(heard.length).toBeGreaterThan(0);
    expect(heard.length).toBeLessThan(reply.length);
    expect(reply.startsWith(heard.replace(/…$/, ''))).toBe(true);

    const agent = record.turns.filter((t) => t.role === 'agent');
    expect(agent.map((t) => t.text)).toEqual([GREETING, heard, 'Yes, we take most insurance plans.']);
    expect(agent[1]!.interrupted).toBe(true);
    // The LLM request in flight was aborted (the client left the stalled stream).
    await expect(h.openai!.responses[0]!.ended).resolves.toBe('stalled');
    // The unheard rest never reached the LLM; the interrupting question did.
    const messages = llmMessages(h, 1).filter((m) => m.role !== 'system');
    expect(messages).toEqual([
      { role: 'assistant', content: GREETING },
      { role: 'user', content: 'Tell me about your services.' },
      { role: 'assistant', content: heard },
      { role: 'user', content: 'Wait, do you take insurance?' },
    ]);
    expect(JSON.stringify(h.openai!.requests[1])).not.toContain('pharmacy');
    expect(record.metrics.bargeIns).toBe(1);
    // `clear` went out before anything of the answer.
    const clearAt = call.received.findIndex((m) => m.event === 'clear');
    const afterClear = call.received.slice(clearAt + 1).filter((m) => m.event === 'mark');
    expect(afterClear.length).toBeGreaterThan(0);
    expect(call.protocolErrors).toEqual([]);
  });

  it('a backchannel over the reply does not interrupt and starts no reply', async () => {
    h = await startTalkHarness();
    h.openai!.enqueue({ text: `${S1} ${S2}` });
    const call = await h.sim.placeCall({ from: CALLER, to: TALK_NUMBER });
    const sid = call.callSid;
    await agentTurnsDone(h, sid, 1, 'greeting');
    h.say('Tell me about your services.');
    await h.until(() => h!.openai!.requests.length === 1, { what: 'the LLM request' });
    const before = call.audioBytes;
    await h.until(() => call.audioBytes > before + 1600, { what: 'the reply to start playing' });
    h.say('Uh-huh.');
    await agentTurnsDone(h, sid, 2, 'the whole reply');
    const isBackchannel = (e: { type: string; backchannel?: boolean }) => e.type === 'turn.caller' && e.backchannel === true;
    await h.until(() => h!.eventsOf(sid).some(isBackchannel), { what: 'the backchannel to be heard' });
    // Then 3 s of virtual time, ample for a wrongly started reply to reach the LLM (it would stop the wait early).
    const heardAt = h.clock.now();
    await h.until(() => h!.clock.now() - heardAt >= 3_000 || h!.openai!.requests.length > 1, { what: '3 s after the backchannel' });
    await call.hangUp();
    const record = await h.finish(call);

    expect(call.clears).toBe(0);
    expect(h.eventsOf(sid).some((e) => e.type === 'barge_in')).toBe(false);
    expect(h.eventsOf(sid).find((e) => e.type === 'turn.caller' && e.backchannel)).toMatchObject({ text: 'Uh-huh.' });
    expect(h.openai!.requests).toHaveLength(1);
    const reply = record.turns.find((t) => t.role === 'agent' && t.text.startsWith('We offer'));
    expect(reply).toMatchObject({ text: `${S1} ${S2}` });
    expect(reply!.interrupted).toBeUndefined();
    expect(record.turns.find((t) => t.backchannel)).toMatchObject({ role: 'caller', text: 'Uh-huh.' });
  });
});

describe('joined turns', () => {
  it('a second turn before the first frame aborts the LLM request and re-issues it with both turns, each once', async () => {
    h = await startTalkHarness();
    h.openai!.enqueue({ stallAfterChunks: 1 }, { text: 'Sure, tomorrow morning works.' });
    const call = await h.sim.placeCall({ from: CALLER, to: TALK_NUMBER });
    const sid = call.callSid;
    await agentTurnsDone(h, sid, 1, 'greeting');
    h.say('I need an appointment.');
    await h.until(() => h!.openai!.requests.length === 1, { what: 'the first LLM request' });
    h.say('For tomorrow morning.');
    await agentTurnsDone(h, sid, 2, 'the answer');
    await call.hangUp();
    const record = await h.finish(call);

    expect(h.openai!.requests).toHaveLength(2);
    await expect(h.openai!.responses[0]!.ended).resolves.toBe('stalled');
    const users = llmMessages(h, 1).filter((m) => m.role === 'user').map((m) => m.content);
    expect(users).toEqual(['I need an appointment.', 'For tomorrow morning.']);
    expect(record.turns.map((t) => [t.role, t.text])).toEqual([
      ['agent', GREETING],
      ['caller', 'I need an appointment.'],
      ['caller', 'For tomorrow morning.'],
      ['agent', 'Sure, tomorrow morning works.'],
    ]);
    // Response time counts from the end of the joined turn.
    expect(record.turns[3]!.metrics).toMatchObject({ responseMs: expect.any(Number), llmFirstTokenMs: expect.any(Number) });
  });
});

describe('non-interruptible audio', () => {
  it('is not cut; speech that ended over it becomes the next turn after playout', async () => {
    h = await startTalkHarness(talkFlow({ notice: true }), { warm: ['talk'] });
    h.openai!.enqueue({ text: 'Of course, what do you need help with?' });
    const call = await h.sim.placeCall({ from: CALLER, to: TALK_NUMBER });
    const sid = call.callSid;
    await h.until(() => call.audioBytes > 4000, { what: 'the notice to start' });
    h.say('Stop, I need help please.');
    await agentTurnsDone(h, sid, 3, 'notice, greeting and answer');
    await call.hangUp();
    const record = await h.finish(call);

    expect(call.clears).toBe(0);
    expect(h.eventsOf(sid).some((e) => e.type === 'barge_in')).toBe(false);
    expect(record.turns.map((t) => [t.role, t.text, t.interrupted ?? false])).toEqual([
      ['agent', NOTICE, false],
      ['agent', GREETING, false],
      ['caller', 'Stop, I need help please.', false],
      ['agent', 'Of course, what do you need help with?', false],
    ]);
    expect(llmMessages(h, 0).filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['Stop, I need help please.']);
  });
});
