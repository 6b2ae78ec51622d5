import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { CallSession } from '../../../src/pipeline/call-session.js';
import { newPlayoutTotals } from '../../../src/pipeline/playout.js';
import { CALL_SID, callFixture, makeFlow, voice } from './call-fixture.js';

/**
 * Invariant: a frame the pacer sends late (the event loop was busy) adds to
 * the process's playout totals, which /metrics reads; audio on time adds nothing.
 */
describe('playout totals', () => {
  it('count the underruns of a call and how late they were', async () => {
    const f = await callFixture({ phrases: { 'Please hold.': new Uint8Array(8000).fill(0x7f) } });
    const totals = newPlayoutTotals();
    const session = new CallSession({
      callSid: CALL_SID,
      channel: f.channel,
      calls: f.calls,
      clock: f.clock,
      logger: silentLogger,
      pacer: f.pacer,
      tts: f.tts,
      phrases: f.phrases,
      flow: makeFlow([{ id: 'e', type: 'end' }]),
      voice,
      playoutTotals: totals,
    });
    void session.say('Please hold.', { interruptible: true, cacheable: true });
    await f.settle();
    // On time: the pacer ticks every 20 ms.
    await f.clock.advance(200);
    expect(totals).toEqual({ underruns: 0, underrunMs: 0 });
    // The loop is stuck for 700 ms: the queued frames go out late.
    f.pacer.close();
    const late = f.clock.now() + 700;
    await f.clock.advance(700);
    session.playout.pace(late);
    expect(totals.underruns).toBeGreaterThan(0);
    expect(totals.underrunMs).toBeGreaterThan(300);
    session.close('hangup');
  });
});
