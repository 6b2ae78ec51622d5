import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyFlow, launchAgent, publishVersion, startRealServer, type RealServer } from './real-wiring.js';

/**
 * Invariant (docs/architecture.md#agent-lifecycle): a call runs on the version served when it started,
 * whatever happens to the agent afterwards. A switch to a new version or a
 * deactivation takes effect at once for new calls only; the call in progress
 * keeps its flow and its record keeps its pinned version.
 */

const NUMBER = '+15550100077';
const CALLER = '+15550001111';

let s: RealServer;
beforeEach(async () => {
  s = await startRealServer();
});
afterEach(async () => {
  await s.close();
});

const agentTexts = (s: RealServer, callSid: string) =>
  s.eventsOf(callSid).flatMap((e) => (e.type === 'turn.agent' ? [e.text] : []));
const atPrompt = (s: RealServer, callSid: string) => () =>
  s.eventsOf(callSid).some((e) => e.type === 'turn.agent' && e.nodeId === 'ask' && e.outcome === 'played');

describe('version pinning', () => {
  it('a call started on version 1 keeps version 1 after version 2 is published and served mid-call', async () => {
    const id = await launchAgent(s, 'versions', keyFlow('version one'), NUMBER);
    const first = await s.sim.placeCall({ from: CALLER, to: NUMBER });
    await s.until(atPrompt(s, first.callSid), { what: 'the v1 prompt' });

    expect(await publishVersion(s, id, keyFlow('version two'))).toBe(2);
    const switched = await s.api('POST', `/agents/${id}/activate`, { version: 2, reason: 'new menu' });
    expect(switched.statusCode, switched.body).toBe(200);
    expect(switched.json()).toMatchObject({ state: 'active', servedVersion: 2 });

    // A new call gets version 2 at once.
    const second = await s.sim.placeCall({ from: CALLER, to: NUMBER });
    await s.until(atPrompt(s, second.callSid), { what: 'the v2 prompt' });
    expect((await s.record(second.callSid)).version).toBe(2);

    // The first call goes on with version 1's flow to its end.
    first.pressDigit('1');
    second.pressDigit('1');
    const r1 = await s.finish(first);
    const r2 = await s.finish(second);
    expect(agentTexts(s, first.callSid)).toEqual(['Hello from version one.', 'Press 1 for version one.', 'Goodbye from version one.']);
    expect(agentTexts(s, second.callSid)).toEqual(['Hello from version two.', 'Press 1 for version two.', 'Goodbye from version two.']);
    expect(r1).toMatchObject({ version: 1, state: 'ended', outcome: { kind: 'completed' }, handler: { kind: 'ai', version: 1 } });
    expect(r2).toMatchObject({ version: 2, state: 'ended' });
    expect(s.eventsOf(first.callSid)[0]).toMatchObject({ type: 'call.started', version: 1 });

    // The history says the same through the API.
    const history = (await s.api('GET', `/calls/${first.callSid}`)).json();
    expect(history).toMatchObject({ version: 1, state: 'ended' });
    expect(history.turns.map((t: { text: string }) => t.text)).toContain('Goodbye from version one.');
    const list = (await s.api('GET', `/calls?agentId=${id}`)).json();
    expect(list.items.map((c: { id: string; version: number }) => [c.id, c.version])).toEqual([
      [second.callSid, 2],
      [first.callSid, 1],
    ]);
  });

  it('a call in progress continues after deactivation, while a new call gets the unavailable behaviour', async () => {
    const id = await launchAgent(s, 'versions', keyFlow('version one'), NUMBER);
    const first = await s.sim.placeCall({ from: CALLER, to: NUMBER });
    await s.until(atPrompt(s, first.callSid), { what: 'the prompt' });

    const off = await s.api('POST', `/agents/${id}/deactivate`, { reason: 'closing' });
    expect(off.json()).toMatchObject({ state: 'inactive' });

    const second = await s.sim.placeCall({ from: CALLER, to: NUMBER });
    const r2 = await s.finish(second);
    expect(second.says()).toEqual(['Sorry, this line is not available right now. Please call again later.']);
    expect(second.events.some((e) => e.kind === 'stream_open')).toBe(false);
    expect(r2.outcome).toEqual({ kind: 'unavailable', detail: 'agent_unavailable' });

    // The first call never noticed.
    expect(first.ended).toBe(false);
    first.pressDigit('1');
    const r1 = await s.finish(first);
    expect(agentTexts(s, first.callSid).at(-1)).toBe('Goodbye from version one.');
    expect(r1).toMatchObject({ version: 1, state: 'ended', outcome: { kind: 'completed' } });
    expect(first.marksReturned.length).toBeGreaterThan(0);
    expect(first.protocolErrors).toEqual([]);
  });
});
