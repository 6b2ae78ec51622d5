import { describe, expect, it } from 'vitest';
import { LoopLatenessSampler } from '../../../src/core/loop-lateness.js';

/** The loop's lateness, summed: each sampler tick adds how late it ran. */
describe('LoopLatenessSampler', () => {
  function setup() {
    let now = 0;
    const due: (() => void)[] = [];
    const sampler = new LoopLatenessSampler(
      () => now,
      (fn) => due.push(fn),
      20,
    );
    /** Runs the pending tick at `at` (the loop reaching the timer then). */
    const tickAt = (at: number) => {
      now = at;
      due.shift()!();
    };
    return { sampler, tickAt, setNow: (at: number) => (now = at) };
  }

  it('adds nothing while ticks run on time, and each late tick’s lateness', () => {
    const { sampler, tickAt } = setup();
    tickAt(20);
    tickAt(40);
    expect(sampler.totalMs()).toBe(0);
    tickAt(560); // due at 60: a 500 ms busy stretch
    expect(sampler.totalMs()).toBe(500);
    tickAt(580);
    expect(sampler.totalMs()).toBe(500);
  });

  it('counts a tick that is overdue right now, and never goes back when it runs', () => {
    const { sampler, tickAt, setNow } = setup();
    tickAt(20);
    setNow(340); // due at 40, not run yet: the loop is busy
    expect(sampler.totalMs()).toBe(300);
    tickAt(400);
    expect(sampler.totalMs()).toBe(360);
  });
});
