import { afterEach, describe, expect, it } from 'vitest';
import { CALLER } from './harness.js';
import { startHoldLine, type HoldLine } from './hold-line.js';

/**
 * MAX_CALLS: a process that is full answers a new call with the agent's
 * unavailable behaviour (TwiML, never an error, no stream) instead of taking
 * it and degrading every call in progress; calls answered but not yet
 * streaming count, and a freed slot is usable again.
 */
let line: HoldLine | undefined;
afterEach(async () => {
  await line?.close();
  line = undefined;
});

const NUMBER = '+15550100009';

describe('MAX_CALLS', () => {
  it('a call past the limit hears the unavailable answer and opens no stream; a freed slot takes the next call', async () => {
    line = await startHoldLine(NUMBER, { MAX_CALLS: '2' });
    const { h, atPrompt } = line;

    const first = await h.sim.placeCall({ from: CALLER, to: NUMBER });
    const second = await h.sim.placeCall({ from: CALLER, to: NUMBER });
    await h.until(() => atPrompt(first.callSid) && atPrompt(second.callSid), { what: 'two calls at the prompt' });

    const refused = await h.sim.placeCall({ from: CALLER, to: NUMBER });
    await h.until(() => refused.ended, { what: 'the third call to end' });
    expect(refused.says()).toEqual(['Sorry, this line is not available right now. Please call again later.']);
    expect(refused.events.some((e) => e.kind === 'stream_open')).toBe(false);
    expect((await h.record(refused.callSid)).outcome).toEqual({ kind: 'unavailable', detail: 'at_capacity' });
    // The calls in progress are untouched.
    expect(first.ended).toBe(false);
    expect(second.ended).toBe(false);

    first.pressDigit('1');
    await h.until(() => first.ended, { what: 'the first call to end' });
    await h.until(() => h.container.telephony.sessions.size === 1, { what: 'its slot to be freed' });

    const next = await h.sim.placeCall({ from: CALLER, to: NUMBER });
    await h.until(() => atPrompt(next.callSid), { what: 'the next call to be answered by the agent' });
    expect(next.events.some((e) => e.kind === 'stream_open')).toBe(true);
  });
});

describe('event-loop lag guard', () => {
  it('while the event loop lags past LOOP_LAG_LIMIT_MS a new call hears the unavailable answer; calls in progress go on; recovered, calls are taken again', async () => {
    line = await startHoldLine(NUMBER, { LOOP_LAG_LIMIT_MS: '200' });
    const { h, atPrompt } = line;
    const guard = h.container.loopGuard!;
    const first = await h.sim.placeCall({ from: CALLER, to: NUMBER });
    await h.until(() => atPrompt(first.callSid), { what: 'the first call at the prompt' });

    // Two windows with a p99 delay of 900 ms (what the monitor would measure under overload).
    guard.observe(900);
    guard.observe(900);
    const refused = await h.sim.placeCall({ from: CALLER, to: NUMBER });
    await h.until(() => refused.ended, { what: 'the refused call to end' });
    expect(refused.says()).toEqual(['Sorry, this line is not available right now. Please call again later.']);
    expect(refused.events.some((e) => e.kind === 'stream_open')).toBe(false);
    expect((await h.record(refused.callSid)).outcome).toEqual({ kind: 'unavailable', detail: 'overloaded' });
    expect(first.ended).toBe(false);

    for (let i = 0; i < 3; i++) guard.observe(5);
    const next = await h.sim.placeCall({ from: CALLER, to: NUMBER });
    await h.until(() => atPrompt(next.callSid), { what: 'the next call to be answered by the agent' });
  });
});
