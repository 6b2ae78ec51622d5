import { afterEach, describe, expect, it } from 'vitest';
import { CALLER } from './harness.js';
import { agentTurnsDone, agentTurnsOf, startTalkHarness, TALK_NUMBER, type TalkHarness } from './spoken-flows.js';
import { parseScrape } from '../support/prometheus.js';

/**
 * Invariant: /metrics moves with real calls: a live call is in progress while
 * its stream is held, its end counts under its outcome, and every agent reply
 * with a measured `responseMs` is one observation of the latency histogram.
 */
let h: TalkHarness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});

const scrape = async (harness: TalkHarness) => {
  const res = await harness.app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  return parseScrape(res.body);
};

describe('/metrics over a spoken call', () => {
  it('counts the call in progress, then its outcome and its reply latencies', async () => {
    h = await startTalkHarness();
    h.openai!.enqueue({ text: 'We offer checkups for the whole family.' }, { text: 'We open at nine.' });
    const before = await scrape(h);
    expect(before.value('voice_calls_ended_total', { outcome: 'completed' })).toBeUndefined();

    const call = await h.sim.placeCall({ from: CALLER, to: TALK_NUMBER });
    const sid = call.callSid;
    await agentTurnsDone(h, sid, 1, 'greeting');
    expect((await scrape(h)).value('voice_calls_in_progress')).toBe(1);
    h.say('Tell me about your services.');
    await agentTurnsDone(h, sid, 2, 'the first answer');
    h.say('When do you open?');
    await agentTurnsDone(h, sid, 3, 'the second answer');
    await call.hangUp();
    const record = await h.finish(call);

    const m = await scrape(h);
    expect(m.value('voice_calls_in_progress')).toBe(0);
    expect(m.value('voice_calls_ended_total', { outcome: record.outcome!.kind })).toBe(1);
    const measured = agentTurnsOf(h.eventsOf(sid)).filter((e) => typeof e.metrics?.responseMs === 'number');
    expect(measured.length).toBe(2);
    const response = m.histogram('voice_turn_response_seconds')!;
    expect(response.count).toBe(measured.length);
    expect(response.sum).toBeCloseTo(measured.reduce((s, e) => s + e.metrics!.responseMs! / 1000, 0), 6);
    expect(m.histogram('voice_turn_llm_first_token_seconds')!.count).toBe(2);
  });
});
