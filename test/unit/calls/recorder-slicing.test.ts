import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { CallRecord } from '../../../src/calls/call-record.js';
import { Calls } from '../../../src/calls/calls.js';
import { MemoryCallEventBus, type CallEvent } from '../../../src/calls/events.js';
import type { CallHistory } from '../../../src/calls/history.js';
import { CALL_HISTORY_EVENTS_PER_WRITE, CALL_HISTORY_SAVES_PER_WRITE, CallRecorder } from '../../../src/calls/recorder.js';
import { MemoryCallRepository } from '../../../src/calls/repository.js';

/** A flush gives the event loop back while it writes (SQLite writes are synchronous), and loses nothing when a batch fails. */

/** Each reading of now() moves 1 ms on: a write "takes" time, so the 2 ms slice runs out. */
class SteppingClock extends ManualClock {
  private steppedMs = 0;
  override now(): number {
    this.steppedMs += 1;
    return this.steppedMs;
  }
}

function history(opts: { failAppendAt?: number } = {}) {
  const saved: string[] = [];
  const appended: CallEvent[][] = [];
  let appendCalls = 0;
  const h: CallHistory = {
    save: async (r: CallRecord) => void saved.push(r.callSid),
    saveAll: async (rs: readonly CallRecord[]) => void saved.push(...rs.map((r) => r.callSid)),
    appendEvents: async (e) => {
      appendCalls++;
      if (appendCalls === opts.failAppendAt) throw new Error('database unreachable');
      appended.push([...e]);
    },
    get: async () => undefined,
    events: async () => [],
    page: async () => ({ items: [], nextCursor: null }) as never,
  };
  return { h, saved, appended };
}

async function openCalls(calls: Calls, n: number) {
  for (let i = 0; i < n; i++) {
    await calls.open({ callSid: `CA${i}`, accountSid: 'AC1', agentId: 'ag', slug: 's', version: 1, from: '+15550001111', to: '+15550100002', direction: 'inbound' });
  }
}

describe('call recorder flush slicing', () => {
  it('lets timers and I/O run between writes of call records once a slice is used up', async () => {
    const clock = new SteppingClock();
    const bus = new MemoryCallEventBus();
    const live = new MemoryCallRepository();
    const calls = new Calls(live, bus, clock, silentLogger);
    const { h, saved } = history();
    const recorder = new CallRecorder({ live, bus, history: h, clock, logger: silentLogger });
    // Records are written CALL_HISTORY_SAVES_PER_WRITE at a time: three writes.
    const n = CALL_HISTORY_SAVES_PER_WRITE * 3;
    await openCalls(calls, n);
    let savedWhenImmediateRan = -1;
    setImmediate(() => (savedWhenImmediateRan = saved.length));
    await recorder.flush();
    expect(saved).toHaveLength(n);
    // The macrotask queued before the flush ran in the middle of it, not after.
    expect(savedWhenImmediateRan).toBeGreaterThan(0);
    expect(savedWhenImmediateRan).toBeLessThan(n);
  });

  it('writes events in batches; a failed batch and the ones after it are re-queued, earlier ones stay written', async () => {
    const clock = new ManualClock();
    const bus = new MemoryCallEventBus();
    const live = new MemoryCallRepository();
    const calls = new Calls(live, bus, clock, silentLogger);
    const { h, appended } = history({ failAppendAt: 2 });
    const recorder = new CallRecorder({ live, bus, history: h, clock, logger: silentLogger });
    await openCalls(calls, 1);
    const total = CALL_HISTORY_EVENTS_PER_WRITE * 2 + 10;
    while (recorder.pending < total) calls.emit({ type: 'dtmf', callSid: 'CA0', digit: '1' });
    await recorder.flush();
    expect(appended).toHaveLength(1);
    expect(appended[0]).toHaveLength(CALL_HISTORY_EVENTS_PER_WRITE);
    expect(recorder.pending).toBe(total - CALL_HISTORY_EVENTS_PER_WRITE);
    await recorder.flush();
    expect(recorder.pending).toBe(0);
    expect(appended.flat()).toHaveLength(total);
    await recorder.close();
  });
});
