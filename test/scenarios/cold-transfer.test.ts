import { afterEach, describe, expect, it } from 'vitest';
import { CALLER, PIZZA_NUMBER, startHarness, typesOf, type Harness } from './harness.js';

/**
 * Cold transfer (pizza: key 0 → operator): the announce plays, then the call
 * leaves the AI through `<Dial action=/twilio/dial-result>` — via the Connect
 * action after the server closes the stream, or via a REST update. A failed
 * dial comes back to the AI at `onUnavailable` by resuming the saved snapshot.
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function pressZeroAfterMenu(hh: Harness) {
  const call = await hh.sim.placeCall({ from: CALLER, to: PIZZA_NUMBER });
  await hh.until(() => hh.eventsOf(call.callSid).some((e) => e.type === 'turn.agent' && e.nodeId === 'menu'), { what: 'menu' });
  call.pressDigit('0');
  return call;
}

describe('cold transfer', () => {
  it('answered: Dial through the Connect action, the record ends transferred', async () => {
    h = await startHarness({ dialOutcome: 'completed' });
    const call = await pressZeroAfterMenu(h);
    const record = await h.finish(call);
    const dialTwiml = call.events.find((e) => e.kind === 'twiml' && e.path === '/twilio/stream-ended');
    expect(dialTwiml).toBeDefined();
    expect((dialTwiml as { xml: string }).xml).toContain(
      '<Dial action="https://voice.test/twilio/dial-result" timeout="20">+15550109999</Dial>',
    );
    expect(call.events.filter((e) => e.kind === 'dial')).toEqual([{ kind: 'dial', number: '+15550109999', outcome: 'completed' }]);
    // The announce was heard in full before the stream closed.
    expect(record.turns.at(-1)).toMatchObject({ role: 'agent', text: 'Please hold while we connect you.' });
    expect(record.state).toBe('ended');
    expect(record.outcome?.kind).toBe('transferred');
    expect(record.nextStep).toEqual({ kind: 'dial', number: '+15550109999' });
    const types = typesOf(h.eventsOf(call.callSid));
    expect(types).toContain('transfer.requested');
    expect(types).toContain('transfer.result');
    const states = h.eventsOf(call.callSid).flatMap((e) => (e.type === 'call.state' ? [e.to] : []));
    expect(states).toEqual(['ai', 'transferring', 'human', 'ended']);
    expect(h.rest.requests).toHaveLength(0);
  });

  it('no answer: the dial result re-streams to the AI, which resumes at onUnavailable and ends', async () => {
    h = await startHarness({ dialOutcome: 'no-answer' });
    const call = await pressZeroAfterMenu(h);
    const record = await h.finish(call);
    expect(call.events.filter((e) => e.kind === 'stream_open')).toHaveLength(2);
    expect(call.events.filter((e) => e.kind === 'dial')).toEqual([{ kind: 'dial', number: '+15550109999', outcome: 'no-answer' }]);
    expect(record.streams).toHaveLength(2);
    expect(record.turns.at(-1)).toMatchObject({
      role: 'agent',
      text: 'Sorry, nobody can take your call right now. Please try again in a few minutes. Goodbye.',
    });
    const nodes = h.eventsOf(call.callSid).flatMap((e) => (e.type === 'node.entered' ? [e.nodeId] : []));
    expect(nodes.slice(-2)).toEqual(['operator', 'shop-busy']);
    const states = h.eventsOf(call.callSid).flatMap((e) => (e.type === 'call.state' ? [e.to] : []));
    expect(states).toEqual(['ai', 'transferring', 'connecting', 'ai', 'ended']);
    expect(record.outcome?.kind).toBe('completed');
    // Only the node's own goodbye went out: no second greeting, nothing repeated.
    expect(typesOf(h.eventsOf(call.callSid)).filter((t) => t === 'call.started')).toHaveLength(1);
  });

  it('via REST: calls(sid).update({ twiml }) reaches the Twilio API at TWILIO_API_BASE_URL', async () => {
    h = await startHarness({ dialOutcome: 'completed', transferVia: 'rest' });
    const call = await pressZeroAfterMenu(h);
    const record = await h.finish(call);
    expect(h.rest.requests).toHaveLength(1);
    const req = h.rest.requests[0]!;
    expect(req.path).toBe(`/2010-04-01/Accounts/${req.accountSid}/Calls/${call.callSid}.json`);
    expect(req.username).toBe(req.accountSid);
    expect(req.form.Twiml).toContain('<Dial action="https://voice.test/twilio/dial-result" timeout="20">+15550109999</Dial>');
    // Twilio stopped the stream itself; no Connect action was requested.
    expect(call.events.filter((e) => e.kind === 'twiml').map((e) => (e as { path: string }).path)).toEqual([
      '/twilio/voice',
      '/twilio/dial-result',
    ]);
    expect(record.outcome?.kind).toBe('transferred');
    expect(record.streams[0]).toMatchObject({ endReason: 'stop' });
  });
});
