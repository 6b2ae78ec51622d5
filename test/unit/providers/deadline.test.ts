import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { judgeDeadline, LATE_RECHECK_MS, LOOP_LATE_TOLERANCE_MS, ProviderTimer } from '../../../src/providers/deadline.js';

/**
 * Provider timers measure the provider, not our own event loop: a timer that
 * fires late (the loop was busy, the answer may sit unread in the socket) looks
 * again after the loop's next I/O pass instead of failing; a provider that is
 * silent while the loop is on time fails exactly at its deadline.
 */

describe('judgeDeadline', () => {
  const start = { from: 0, budgetMs: 2000, forgivenMs: 0 };

  it('expires at the deadline when the timer fired on time', () => {
    expect(judgeDeadline(start, { now: 2000, dueAt: 2000 })).toEqual({ kind: 'expired' });
    // Ordinary timer jitter is not lateness.
    expect(judgeDeadline(start, { now: 2000 + LOOP_LATE_TOLERANCE_MS, dueAt: 2000 })).toEqual({ kind: 'expired' });
  });

  it('a late fire forgives the lateness and looks again after the next I/O pass', () => {
    const verdict = judgeDeadline(start, { now: 2500, dueAt: 2000 });
    expect(verdict).toEqual({ kind: 'rearm', delayMs: LATE_RECHECK_MS, state: { from: 0, budgetMs: 2000, forgivenMs: 500 } });
    if (verdict.kind !== 'rearm') return;
    // The recheck runs on time and nothing came: the provider really is late.
    expect(judgeDeadline(verdict.state, { now: 2501, dueAt: 2501 })).toEqual({ kind: 'expired' });
  });

  it('forgives at most one more budget, so a silent provider fails even while the loop stays late', () => {
    let state = start;
    let now = 2000;
    let dueAt = 2000;
    const rechecks: number[] = [];
    for (;;) {
      now = dueAt + 700; // every fire 700 ms late
      const verdict = judgeDeadline(state, { now, dueAt });
      if (verdict.kind === 'expired') break;
      rechecks.push(now);
      state = verdict.state;
      dueAt = now + verdict.delayMs;
    }
    expect(state.forgivenMs).toBe(2000);
    expect(rechecks).toHaveLength(3);
    expect(now).toBeLessThan(2000 + 2000 + 4 * 700 + 10);
  });

  it('forgives the loop lateness summed over the wait, even when the timer itself fires on time', () => {
    // Under overload the request's write, its answer's read and parsing each waited behind the loop:
    // 800 ms of lateness in all, while this firing happened to be on time.
    const verdict = judgeDeadline(start, { now: 2000, dueAt: 2000, loopLateMs: 800 });
    expect(verdict).toEqual({ kind: 'rearm', delayMs: 800, state: { from: 0, budgetMs: 2000, forgivenMs: 800 } });
    if (verdict.kind !== 'rearm') return;
    // The loop kept up since: nothing more is owed, and a silent provider fails at the moved deadline.
    expect(judgeDeadline(verdict.state, { now: 2800, dueAt: 2800, loopLateMs: 800 })).toEqual({ kind: 'expired' });
    // Jitter summed over a wait is not lateness either, and forgiveness stops at one more budget.
    expect(judgeDeadline(start, { now: 2000, dueAt: 2000, loopLateMs: LOOP_LATE_TOLERANCE_MS })).toEqual({ kind: 'expired' });
    const capped = judgeDeadline(start, { now: 2000, dueAt: 2000, loopLateMs: 5000 });
    expect(capped).toMatchObject({ state: { forgivenMs: 2000 } });
    if (capped.kind !== 'rearm') return;
    // Expired with lateness left over that could not be forgiven: the silence may be ours.
    expect(judgeDeadline(capped.state, { now: 4000, dueAt: 4000, loopLateMs: 5000 })).toEqual({ kind: 'expired', unforgivenLateMs: 3000 });
  });

  it('bytes since the request restart the budget from them', () => {
    expect(judgeDeadline(start, { now: 2000, dueAt: 2000, progressAt: 1500 })).toEqual({
      kind: 'rearm',
      delayMs: 1500,
      state: { from: 1500, budgetMs: 2000, forgivenMs: 0 },
    });
    // Progress from before the budget began (an earlier request) counts for nothing.
    expect(judgeDeadline({ ...start, from: 100 }, { now: 2100, dueAt: 2100, progressAt: 50 })).toEqual({ kind: 'expired' });
  });

  it('a fire before the deadline (a budget moved by progress) re-arms for the time left', () => {
    expect(judgeDeadline({ from: 1000, budgetMs: 2000, forgivenMs: 0 }, { now: 2000, dueAt: 2000 })).toMatchObject({ kind: 'rearm', delayMs: 1000 });
  });
});

describe('ProviderTimer on the injected clock', () => {
  function setup(budgetMs = 2000) {
    const clock = new ManualClock();
    const expiredAt: number[] = [];
    const timer = new ProviderTimer(clock, () => expiredAt.push(clock.now()));
    timer.arm(budgetMs);
    return { clock, timer, expiredAt };
  }

  it('a silent provider with the loop on time fails at exactly its deadline', async () => {
    const { clock, expiredAt } = setup();
    await clock.advance(1999);
    expect(expiredAt).toEqual([]);
    await clock.advance(1);
    expect(expiredAt).toEqual([2000]);
  });

  it('a late loop whose answer arrives in the same turn does not fail', async () => {
    const { clock, timer, expiredAt } = setup();
    // The fake answered at 200 ms, but the loop was busy until 2500: the timer fires first, late.
    await clock.advanceLate(2500);
    expect(expiredAt).toEqual([]);
    expect(timer.armed).toBe(true);
    // The poll phase then reads the waiting bytes: the adapter cancels the timer on the first byte.
    timer.cancel();
    await clock.advance(10_000);
    expect(expiredAt).toEqual([]);
    expect(clock.pending()).toBe(0);
  });

  it('a late loop with a silent provider still fails, on the recheck after the I/O pass', async () => {
    const { clock, expiredAt } = setup();
    await clock.advanceLate(2500);
    expect(expiredAt).toEqual([]);
    await clock.advance(LATE_RECHECK_MS);
    expect(expiredAt).toEqual([2500 + LATE_RECHECK_MS]);
  });

  it('progress restarts the budget; a re-arm starts it afresh', async () => {
    const { clock, timer, expiredAt } = setup();
    await clock.advance(1500);
    timer.progress();
    await clock.advance(1999);
    expect(expiredAt).toEqual([]);
    await clock.advance(1);
    expect(expiredAt).toEqual([3500]);

    timer.arm(1000);
    await clock.advance(1000);
    expect(expiredAt).toEqual([3500, 4500]);
  });

  it('a budget counted from an earlier start (a deadline shared by retries) fires at that deadline', async () => {
    const clock = new ManualClock();
    await clock.advance(3100);
    const expiredAt: number[] = [];
    new ProviderTimer(clock, () => expiredAt.push(clock.now())).arm(4000, 0);
    await clock.advance(899);
    expect(expiredAt).toEqual([]);
    await clock.advance(1);
    expect(expiredAt).toEqual([4000]);
  });

  it('asks the loop lateness source how late the loop was since the budget started (or since the latest bytes)', async () => {
    const clock = new ManualClock();
    let lateMs = 100;
    const expiredAt: number[] = [];
    const timer = new ProviderTimer(clock, () => expiredAt.push(clock.now()), undefined, { totalMs: () => lateMs });
    timer.arm(2000);
    lateMs = 700; // 600 ms behind during the wait; this timer will fire on time
    await clock.advance(2000);
    expect(expiredAt).toEqual([]);
    await clock.advance(599);
    expect(expiredAt).toEqual([]);
    await clock.advance(1);
    expect(expiredAt).toEqual([2600]);
    expect(timer.unforgivenLateMs).toBe(0);

    // Bytes restart the budget, and the lateness is counted from them: what came before is spent.
    expiredAt.length = 0;
    timer.arm(2000);
    await clock.advance(1000);
    lateMs = 1500;
    timer.progress();
    await clock.advance(2000);
    expect(expiredAt).toEqual([clock.now()]);
  });

  it('at expiry, says how late the loop was beyond what it could forgive', async () => {
    const clock = new ManualClock();
    let lateMs = 0;
    const expiredAt: number[] = [];
    const timer = new ProviderTimer(clock, () => expiredAt.push(clock.now()), undefined, { totalMs: () => lateMs });
    timer.arm(2000);
    lateMs = 5000; // the loop spent 5 s behind during a 2 s budget
    await clock.advance(4000);
    expect(expiredAt).toEqual([4000]); // one more budget forgiven, no more
    expect(timer.unforgivenLateMs).toBe(3000);
  });

  it('held by the consumer, a passing deadline does not fail; release restarts the budget from then', async () => {
    const { clock, timer, expiredAt } = setup();
    await clock.advance(500);
    timer.hold();
    await clock.advance(5000); // the consumer kept the stream well past the deadline
    expect(expiredAt).toEqual([]);
    timer.release(); // at 5500: a whole budget from now
    await clock.advance(1999);
    expect(expiredAt).toEqual([]);
    await clock.advance(1);
    expect(expiredAt).toEqual([7500]);

    // Released before the deadline: the budget restarts from the release, as bytes would restart it.
    expiredAt.length = 0;
    timer.arm(2000); // at 7500
    timer.hold();
    await clock.advance(1500);
    timer.release(); // at 9000
    await clock.advance(1999);
    expect(expiredAt).toEqual([]);
    await clock.advance(1);
    expect(expiredAt).toEqual([11_000]);
  });

  it('keeps one pending timer at a time', async () => {
    const { clock } = setup();
    expect(clock.pending()).toBe(1);
    await clock.advanceLate(2500);
    expect(clock.pending()).toBe(1);
  });
});
