import { describe, expect, it } from 'vitest';
import { HEARTBEAT_INTERVAL_MS, heartbeatStep, missedBeats, nextCheckAt, type HeartbeatState } from '../../../src/handoff/heartbeat.js';

/** Invariant: online while a beat arrived within the last two 15 s intervals; offline after two missed, and it stays so. */
const I = HEARTBEAT_INTERVAL_MS;

function run(events: [number, 'opened' | 'beat' | 'tick'][]): HeartbeatState {
  let s: HeartbeatState | undefined;
  for (const [at, type] of events) s = heartbeatStep(s, { type }, at);
  return s!;
}

describe('heartbeat state machine', () => {
  it('stays online with one missed beat, goes offline at the second', () => {
    expect(run([[0, 'opened'], [2 * I - 1, 'tick']]).offline).toBe(false);
    expect(run([[0, 'opened'], [2 * I, 'tick']]).offline).toBe(true);
  });

  it('counts from the last beat', () => {
    const s = run([[0, 'opened'], [20_000, 'beat'], [45_000, 'tick']]);
    expect(s).toEqual({ lastBeatMs: 20_000, offline: false });
    expect(missedBeats(s, 45_000)).toBe(1);
    expect(nextCheckAt(s)).toBe(20_000 + 2 * I);
    expect(run([[0, 'opened'], [20_000, 'beat'], [20_000 + 2 * I, 'tick']]).offline).toBe(true);
  });

  it('keeps an offline connection offline: a late beat does not revive it', () => {
    expect(run([[0, 'opened'], [2 * I, 'tick'], [2 * I + 1, 'beat']]).offline).toBe(true);
  });

  it('beats every 15 s keep a connection online for an hour', () => {
    let s = heartbeatStep(undefined, { type: 'opened' }, 0);
    for (let t = I; t <= 3_600_000; t += I) {
      s = heartbeatStep(s, { type: 'tick' }, t - 1);
      s = heartbeatStep(s, { type: 'beat' }, t);
    }
    expect(s.offline).toBe(false);
  });
});
