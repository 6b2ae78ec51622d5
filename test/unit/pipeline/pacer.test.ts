import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { ClockPacer, type PacedTarget } from '../../../src/pipeline/pacer.js';
import { CallPlayout, type OutboundMessage } from '../../../src/pipeline/playout.js';

/**
 * One process-wide pacing timer: it runs only while some call is registered,
 * hands every call the current monotonic time, and one failing call does not
 * stop the others. The CallPlayout driver registers itself only while it has
 * something to send.
 */

function recorder(): PacedTarget & { calls: number[] } {
  const calls: number[] = [];
  return { calls, pace: (now) => void calls.push(now) };
}

describe('ClockPacer', () => {
  it('ticks every registered target with the clock time, and only while something is registered', async () => {
    const clock = new ManualClock();
    const pacer = new ClockPacer({ clock, intervalMs: 20 });
    expect(pacer.running).toBe(false);
    const a = recorder();
    const b = recorder();
    const stopA = pacer.register(a);
    pacer.register(b);
    expect(pacer.size).toBe(2);
    expect(clock.pending()).toBe(1); // one timer for the process, not one per call
    await clock.advance(100);
    expect(a.calls).toEqual([20, 40, 60, 80, 100]);
    expect(b.calls).toEqual([20, 40, 60, 80, 100]);
    stopA();
    await clock.advance(40);
    expect(a.calls).toHaveLength(5);
    expect(b.calls).toHaveLength(7);
    pacer.close();
    expect(pacer.running).toBe(false);
    expect(clock.pending()).toBe(0);
    expect(() => pacer.register(a)).toThrow(/closed/);
  });

  it('stops its timer when the last target unregisters and restarts on the next', async () => {
    const clock = new ManualClock();
    const pacer = new ClockPacer({ clock });
    const stop = pacer.register(recorder());
    stop();
    expect(pacer.running).toBe(false);
    expect(clock.pending()).toBe(0);
    const c = recorder();
    pacer.register(c);
    await clock.advance(45);
    expect(c.calls).toEqual([20, 40]);
  });

  it('keeps pacing the other calls when one throws', async () => {
    const clock = new ManualClock();
    const errors: unknown[] = [];
    const pacer = new ClockPacer({ clock, onError: (err) => errors.push(err) });
    pacer.register({ pace: () => { throw new Error('socket gone'); } });
    const ok = recorder();
    pacer.register(ok);
    await clock.advance(60);
    expect(ok.calls).toEqual([20, 40, 60]);
    expect(errors).toHaveLength(3);
  });

  it('rejects a non-positive interval', () => {
    expect(() => new ClockPacer({ clock: new ManualClock(), intervalMs: 0 })).toThrow(RangeError);
  });
});

describe('CallPlayout driver', () => {
  function setup() {
    const clock = new ManualClock();
    const pacer = new ClockPacer({ clock });
    const sent: { at: number; m: OutboundMessage }[] = [];
    const playout = new CallPlayout({ clock, pacer, sink: (m) => void sent.push({ at: clock.now(), m }) });
    return { clock, pacer, sent, playout };
  }

  it('streams a cached phrase at real time through the shared pacer and resolves on its mark', async () => {
    const { clock, pacer, sent, playout } = setup();
    const name = playout.playSegment({ turn: 1, segment: 0, text: 'Welcome to the pizza line.' }, new Uint8Array(8000)); // 1 s
    expect(sent.filter((s) => s.m.kind === 'media')).toHaveLength(3); // sent at once, 300 ms lead
    expect(pacer.size).toBe(1);
    const done = playout.whenSegmentDone(name);
    await clock.advance(1000);
    const media = sent.filter((s) => s.m.kind === 'media');
    expect(media).toHaveLength(10);
    expect(media.at(-1)!.at).toBeGreaterThanOrEqual(700);
    expect(sent.at(-1)!.m).toEqual({ kind: 'mark', name: '1:0' });
    expect(pacer.size).toBe(0); // nothing left to send: no ticks for this call
    let outcome: string | undefined;
    void done.then((o) => (outcome = o));
    await clock.advance(0);
    expect(outcome).toBeUndefined(); // the mark has not come back yet
    playout.onMarkReturned(name);
    await expect(done).resolves.toBe('played');
    await expect(playout.whenIdle()).resolves.toBeUndefined();
  });

  it('sends clear to the sink before anything else and resolves waiters as cleared', async () => {
    const { clock, sent, playout, pacer } = setup();
    const name = playout.openSegment({ turn: 2, segment: 0, text: 'Our specials today are many.' });
    playout.pushAudio(name, new Uint8Array(4000));
    const done = playout.whenSegmentDone(name);
    await clock.advance(200);
    const before = sent.length;
    const heard = playout.clear();
    expect(sent[before]!.m).toEqual({ kind: 'clear' });
    expect(sent).toHaveLength(before + 1);
    expect(heard.interrupted).toBe(true);
    await expect(done).resolves.toBe('cleared');
    expect(pacer.size).toBe(0);
    expect(playout.pushAudio(name, new Uint8Array(800))).toBe(false);
    await clock.advance(500);
    expect(sent).toHaveLength(before + 1);
  });

  it('settles waiters as closed and stops pacing when the call closes', async () => {
    const { playout, pacer } = setup();
    const name = playout.openSegment({ turn: 3, segment: 0, text: 'Bye.' });
    const done = playout.whenSegmentDone(name);
    playout.close();
    await expect(done).resolves.toBe('closed');
    expect(pacer.size).toBe(0);
    expect(() => playout.openSegment({ turn: 3, segment: 1, text: 'x' })).toThrow(/closed/);
    await expect(playout.whenSegmentDone('9:9')).resolves.toBe('closed');
  });

  it('reports events to listeners', async () => {
    const { playout } = setup();
    const types: string[] = [];
    playout.on((e) => types.push(e.type));
    const name = playout.playSegment({ turn: 4, segment: 0, text: 'Hi.' }, new Uint8Array(160));
    playout.onMarkReturned(name);
    expect(types).toEqual(['segment_started', 'segment_played', 'idle']);
  });
});
