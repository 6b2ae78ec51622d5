import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { StopReason } from '../../../src/core/stop-reason.js';
import type { RunResult } from '../../../src/flow/events.js';
import type { CallHandle } from '../../../src/pipeline/call.js';
import { drainCalls } from '../../../src/pipeline/drain.js';

/** The drain on virtual time, with stand-in call handles. */
function fakeCall(live: Map<string, CallHandle>, callSid: string) {
  let end: (r: RunResult) => void = () => {};
  const done = new Promise<RunResult>((r) => (end = r));
  const stops: StopReason[] = [];
  const handle = {
    callSid,
    stream: {} as CallHandle['stream'],
    done,
    on: () => () => {},
    async stop(reason: StopReason) {
      stops.push(reason);
      end({ outcome: 'aborted', reason });
    },
    park: async () => ({}) as never,
  } satisfies CallHandle;
  live.set(callSid, handle);
  void done.then(() => live.delete(callSid));
  return { handle, stops, end: () => end({ outcome: 'completed' }) };
}

describe('drainCalls', () => {
  it('returns at once with no live calls', async () => {
    const clock = new ManualClock();
    expect(await drainCalls({ live: new Map(), clock, drainMs: 30_000, logger: silentLogger })).toEqual({ seen: 0, stopped: 0 });
  });

  it('waits for calls to end on their own, and stops only those still live at the deadline', async () => {
    const clock = new ManualClock();
    const live = new Map<string, CallHandle>();
    const a = fakeCall(live, 'CA-a');
    const b = fakeCall(live, 'CA-b');
    let summary: unknown;
    const drained = drainCalls({ live, clock, drainMs: 30_000, logger: silentLogger }).then((s) => (summary = s));
    await clock.advance(10_000);
    a.end();
    // A call whose stream starts during the drain counts too.
    const c = fakeCall(live, 'CA-c');
    await clock.advance(19_999);
    expect(summary).toBeUndefined();
    expect(b.stops).toEqual([]);
    await clock.advance(1);
    await drained;
    expect(summary).toEqual({ seen: 3, stopped: 2 });
    expect(a.stops).toEqual([]);
    expect(b.stops).toEqual(['shutdown']);
    expect(c.stops).toEqual(['shutdown']);
    expect(live.size).toBe(0);
  });

  it('ends early when every call has ended', async () => {
    const clock = new ManualClock();
    const live = new Map<string, CallHandle>();
    const a = fakeCall(live, 'CA-a');
    const drained = drainCalls({ live, clock, drainMs: 30_000, logger: silentLogger });
    await clock.advance(500);
    a.end();
    expect(await drained).toEqual({ seen: 1, stopped: 0 });
  });
});
