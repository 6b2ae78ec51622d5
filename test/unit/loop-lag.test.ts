/**
 * The event-loop delay guard is a pure state machine fed one p99 figure per
 * window: two lagging windows in a row set `overloaded` (one GC pause does
 * not), three calm windows in a row clear it; the monitor feeds it from its
 * sampler once a window on the clock.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { LoopLagGuard, LoopLagMonitor, type LagSampler } from '../../src/core/loop-lag.js';

const policy = { limitMs: 200, enterWindows: 2, recoverWindows: 3 };

describe('LoopLagGuard', () => {
  it('two lagging windows in a row set overloaded; one spike does not', () => {
    const changes: boolean[] = [];
    const g = new LoopLagGuard(policy, (o) => changes.push(o));
    g.observe(500);
    g.observe(10);
    g.observe(500);
    expect(g.overloaded).toBe(false);
    g.observe(250);
    expect(g.overloaded).toBe(true);
    expect(changes).toEqual([true]);
  });

  it('clears after three calm windows in a row; a lagging window restarts the count', () => {
    const changes: boolean[] = [];
    const g = new LoopLagGuard(policy, (o) => changes.push(o));
    g.observe(300);
    g.observe(300);
    g.observe(10);
    g.observe(10);
    g.observe(300);
    g.observe(10);
    g.observe(10);
    expect(g.overloaded).toBe(true);
    g.observe(10);
    expect(g.overloaded).toBe(false);
    expect(changes).toEqual([true, false]);
  });
});

describe('LoopLagMonitor', () => {
  it('samples once a window on the clock and stops when closed', async () => {
    const clock = new ManualClock();
    const figures = [300, 300, 300];
    let closed = false;
    const sampler: LagSampler = { sampleMs: () => figures.shift() ?? 0, close: () => (closed = true) };
    const monitor = new LoopLagMonitor(new LoopLagGuard(policy), sampler, clock, 1_000).start();
    await clock.advance(999);
    expect(figures).toHaveLength(3);
    await clock.advance(1_001);
    expect(figures).toHaveLength(1);
    expect(monitor.guard.overloaded).toBe(true);
    monitor.close();
    await clock.advance(5_000);
    expect(figures).toHaveLength(1);
    expect(closed).toBe(true);
  });
});
