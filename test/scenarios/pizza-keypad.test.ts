import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CALLER, PIZZA_NUMBER, startHarness, typesOf, type Harness } from './harness.js';

/**
 * The pizza example by keypad, end to end over the real protocols: the
 * greeting comes from the phrase cache (no TTS request), the menu takes a key,
 * the branch picks the order, the confirmation (with a variable) goes to TTS,
 * and the call hangs up after the goodbye's last mark.
 */
let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

describe('pizza by keypad', () => {
  it('greets from the cache, takes an order by keys, says goodbye and hangs up after the last mark', async () => {
    const call = await h.sim.placeCall({ from: CALLER, to: PIZZA_NUMBER });
    const sid = call.callSid;
    // The menu prompt plays to its end before the caller presses a key.
    await h.until(() => h.eventsOf(sid).some((e) => e.type === 'turn.agent' && e.nodeId === 'menu'), { what: 'menu prompt' });
    // Greeting done with no TTS request at all: the phrase cache was warmed at start.
    expect(h.tts.requests).toHaveLength(0);
    call.pressDigit('2');
    await h.until(() => h.eventsOf(sid).some((e) => e.type === 'node.entered' && e.nodeId === 'quantity'), { what: 'quantity' });
    // Pressed during the quantity prompt: it stops the prompt and counts as the answer.
    await h.until(() => call.audioBytes > 0 && h.eventsOf(sid).some((e) => e.type === 'node.entered' && e.nodeId === 'quantity'));
    call.pressDigit('3');
    const record = await h.finish(call);

    // The confirmation has a per-call variable: it is the only text sent to TTS, one request per sentence.
    expect(h.tts.requests.map((r) => r.text)).toEqual([
      'Got it: 3 pepperoni.',
      'Your order will be ready for pickup in about 20 minutes.',
    ]);
    expect(record.state).toBe('ended');
    expect(record.outcome?.kind).toBe('completed');
    expect(record.streams).toHaveLength(1);
    expect(record.streams[0]!.endedAt).toBeDefined();
    expect(record.turns.map((t) => [t.role, t.text])).toEqual([
      ['agent', "Thanks for calling Tony's Pizza."],
      ['agent', 'For a margherita, press 1. For pepperoni, press 2. For veggie, press 3. To speak to a person, press 0.'],
      ['caller', '2'],
      ['agent', 'How…'],
      ['caller', '3'],
      ['agent', 'Got it: 3 pepperoni. Your order will be ready for pickup in about 20 minutes.'],
      ['agent', "Thanks for ordering from Tony's Pizza. Goodbye!"],
    ]);
    expect(record.metrics.ttsRequests).toBe(2);
    expect(record.metrics.cachedPhrases).toBe(4);

    expect(record.turns[3]!.interrupted).toBe(true);
    expect(record.metrics.bargeIns).toBe(1);
    expect(h.eventsOf(sid).find((e) => e.type === 'barge_in')).toMatchObject({ reason: 'dtmf', heardText: 'How…' });
    expect(call.clears).toBe(1);

    const types = typesOf(h.eventsOf(sid));
    expect(types[0]).toBe('call.started');
    expect(types).toContain('stream.started');
    expect(types.filter((t) => t === 'call.ended')).toHaveLength(1);
    const nodes = h.eventsOf(sid).flatMap((e) => (e.type === 'node.entered' ? [e.nodeId] : []));
    expect(nodes).toEqual(['welcome', 'menu', 'route', 'quantity', 'check-quantity', 'confirm-pepperoni', 'goodbye']);

    // Hang-up came after the goodbye's last mark: every mark sent came back.
    const marksSent = call.received.filter((m) => m.event === 'mark').map((m) => (m.mark as { name: string }).name);
    expect(call.marksReturned).toEqual(marksSent);
    expect(call.protocolErrors).toEqual([]);
    expect(call.audioBytes).toBeGreaterThan(8000);
    // The server closed the stream; the Connect action answered Hangup.
    expect(call.events.find((e) => e.kind === 'stream_closed')).toMatchObject({ by: 'server' });
    expect(call.events.filter((e) => e.kind === 'twiml').map((e) => (e as { path: string }).path)).toEqual([
      '/twilio/voice',
      '/twilio/stream-ended',
    ]);
    expect(call.events.at(-1)).toMatchObject({ kind: 'status', httpStatus: 200 });
  });
});
