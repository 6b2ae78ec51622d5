import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RATE_WINDOW_MS } from '../../src/outbound/admission.js';
import { FINAL_STATUSES } from '../../src/testing/twilio-simulator.js';
import { attachSimulatorToRest } from '../../src/testing/twilio-sim-rest.js';
import { launchAgent, startRealServer, type RealServer } from './real-wiring.js';

/**
 * Invariant (docs/outbound.md#limits): however many outbound requests arrive at
 * once, an agent never has more calls dialling or in progress than
 * `outbound.maxConcurrent`, never starts more than `outbound.perMinute` in any
 * 60 seconds, and every request is dialled in the end. Time is the manual clock.
 */

const AGENT_NUMBER = '+15550100089';
const LIMITS = { maxConcurrent: 3, perMinute: 40 };
/** Virtual time per step: dial starts are seen to within one step. */
const STEP_MS = 500;

const flow = {
  version: 1,
  name: 'Campaign',
  start: 'bye',
  nodes: [{ id: 'bye', type: 'end', text: 'Goodbye.' }],
};

let s: RealServer;
beforeEach(async () => {
  s = await startRealServer();
  attachSimulatorToRest(s.sim, s.rest);
});
afterEach(async () => {
  await s.close();
});

describe('outbound limits', () => {
  it('100 requests at once: never more than maxConcurrent live calls, never more than perMinute starts a minute, all dialled', async () => {
    const id = await launchAgent(s, 'campaign', flow, AGENT_NUMBER);
    const patched = await s.api('PATCH', `/agents/${id}`, { outbound: LIMITS });
    expect(patched.json().outbound).toEqual(LIMITS);
    // Callees reject after ringing a while (1–4 s), so calls overlap and end through the status callback.
    const callees = Array.from({ length: 100 }, (_, i) => `+1415555${String(1000 + i).padStart(4, '0')}`);
    callees.forEach((n, i) => s.sim.setPerson(n, { pickUp: 'busy', ringMs: 1000 + ((i * 737) % 3000) }));

    const responses = await Promise.all(callees.map((to) => s.api('POST', '/calls', { agentId: id, to })));
    expect(responses.map((r) => r.statusCode)).toEqual(callees.map(() => 202));
    const states = responses.map((r) => r.json().state as string);
    expect(states.filter((st) => st === 'dialing')).toHaveLength(LIMITS.maxConcurrent);
    expect(states.filter((st) => st === 'queued')).toHaveLength(100 - LIMITS.maxConcurrent);
    const ids = responses.map((r) => r.json().id as string);

    let maxLive = 0;
    const dialledAt: number[] = [];
    await s.until(
      () => {
        for (let i = dialledAt.length; i < s.sim.calls.length; i++) dialledAt.push(s.clock.now());
        const live = s.sim.calls.filter((c) => !FINAL_STATUSES.has(c.status)).length;
        maxLive = Math.max(maxLive, live, s.container.outbound.dialer.inFlight(id));
        return ids.every((i) => s.container.outbound.dialer.get(i)?.state === 'ended');
      },
      { maxMs: 15 * 60_000, stepMs: STEP_MS, what: 'every request to end' },
    );

    expect(maxLive).toBe(LIMITS.maxConcurrent);
    expect(s.sim.calls).toHaveLength(100);
    expect(new Set(s.sim.calls.map((c) => c.to))).toEqual(new Set(callees));
    for (let i = LIMITS.perMinute; i < dialledAt.length; i++) {
      // The (perMinute+1)-th start after any start is at least a minute later.
      expect(dialledAt[i]! - dialledAt[i - LIMITS.perMinute]!).toBeGreaterThanOrEqual(RATE_WINDOW_MS - STEP_MS);
    }
    expect(ids.map((i) => s.container.outbound.dialer.get(i)?.outcome)).toEqual(ids.map(() => 'busy'));
    // 100 calls at 40 a minute take at least two minutes of (virtual) time.
    expect(dialledAt.at(-1)! - dialledAt[0]!).toBeGreaterThanOrEqual(2 * RATE_WINDOW_MS - STEP_MS);
  }, 60_000);
});
