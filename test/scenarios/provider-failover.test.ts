import { afterEach, describe, expect, it } from 'vitest';
import { CALLER } from './harness.js';
import { GREETING, TALK_NUMBER, agentTurnsDone, startTalkHarness, type TalkHarness } from './spoken-flows.js';

/**
 * A spoken call over the Twilio simulator whose primary LLM fails: the turn is
 * answered by the secondary (configured as OPENAI_SECONDARY_MODEL on the same
 * loopback server, told apart by model), the call goes on, and once the
 * primary's breaker is open `/ready` says `degraded` (200) and the primary gets
 * no more requests.
 */
let h: TalkHarness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});

describe('provider failover in a call', () => {
  it('the primary LLM answering 500: the caller hears the secondary, the call goes on, /ready reads degraded', async () => {
    h = await startTalkHarness(undefined, {
      env: { OPENAI_MODEL: 'primary-model', OPENAI_SECONDARY_MODEL: 'secondary-model', BREAKER_FAILURES: '1' },
    });
    h.openai!.setResponder((req) => (req.model === 'primary-model' ? { status: 500 } : { text: `Answer ${req.messages.length}.` }));
    const call = await h.sim.placeCall({ from: CALLER, to: TALK_NUMBER });
    await agentTurnsDone(h, call.callSid, 1, 'greeting');
    h.say('Where are you located?');
    await agentTurnsDone(h, call.callSid, 2, 'the first answer');
    const ready = await h.app.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'degraded', providers: { stages: { llm: 'degraded' } } });

    h.say('And when are you open?');
    await agentTurnsDone(h, call.callSid, 3, 'the second answer');
    await call.hangUp();
    const record = await h.finish(call);
    const models = h.openai!.requests.map((r) => r.model);
    // The primary was tried once (its 500 opened the breaker), then skipped.
    expect(models.filter((m) => m !== 'secondary-model')).toHaveLength(1);
    expect(models.filter((m) => m === 'secondary-model')).toHaveLength(2);
    expect(record.turns.filter((t) => t.role === 'agent').map((t) => t.text)).toEqual([GREETING, expect.stringMatching(/^Answer/), expect.stringMatching(/^Answer/)]);
    expect(record.outcome?.kind).not.toBe('failed');
  });
});
