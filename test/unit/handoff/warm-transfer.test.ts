import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BRIEF_MAX_MS,
  RING_GRACE_MS,
  nextDeadline,
  startWarmTransfer,
  stepWarmTransfer,
  type WarmTransferConfig,
  type WarmTransferEffect,
  type WarmTransferEvent,
  type WarmTransferState,
} from '../../../src/handoff/warm-transfer.js';

/**
 * The warm transfer decides alone, fed (event, nowMs): one leg at a time,
 * nobody rung twice, the next person within maxWait, then unavailable; the
 * caller hanging up cancels the person's leg at once; every person taken and
 * not accepted is released.
 */
const WARM: WarmTransferConfig = { ringSeconds: 20, maxWaitMs: 60_000, confirm: true, retry: true };
const ASSUME: WarmTransferConfig = { ringSeconds: 20, maxWaitMs: 60_000, confirm: false, retry: false };
const ana = { staffId: 'st-ana', dial: '+15550107001' };
const bo = { staffId: 'st-bo', dial: 'client:bo' };

class Driver {
  state: WarmTransferState;
  log: WarmTransferEffect[] = [];
  constructor(config: WarmTransferConfig = WARM, now = 0) {
    const s = startWarmTransfer(config, now);
    this.state = s.state;
    this.log.push(...s.effects);
  }
  feed(event: WarmTransferEvent, now: number): WarmTransferEffect[] {
    const s = stepWarmTransfer(this.state, event, now);
    this.state = s.state;
    this.log.push(...s.effects);
    return s.effects;
  }
  kinds = (effects: WarmTransferEffect[]) => effects.map((e) => e.kind);
}

/** Dials `who` as the next attempt and lets the leg ring. */
function ring(d: Driver, who: typeof ana, now: number, legSid: string): number {
  const dial = d.feed({ type: 'candidate', candidate: who }, now).find((e) => e.kind === 'dial');
  expect(dial).toMatchObject({ kind: 'dial', candidate: who, ringSeconds: 20 });
  const attempt = (dial as { attempt: number }).attempt;
  d.feed({ type: 'leg_created', attempt, legSid }, now + 100);
  d.feed({ type: 'leg', attempt, legSid, status: 'initiated' }, now + 200);
  d.feed({ type: 'leg', attempt, legSid, status: 'ringing' }, now + 300);
  return attempt;
}

describe('warm transfer: outcomes', () => {
  it('accepted: answered, pressed 1 → join, accepted, finished; the person keeps their session', () => {
    const d = new Driver();
    expect(d.log).toEqual([{ kind: 'find_candidate', exclude: [] }]);
    const a = ring(d, ana, 1000, 'CAleg1');
    expect(d.feed({ type: 'leg', attempt: a, legSid: 'CAleg1', status: 'answered' }, 4000)).toEqual([]);
    expect(d.state.phase).toBe('briefing');
    expect(d.feed({ type: 'digit', attempt: a, digits: '1' }, 9000)).toEqual([
      { kind: 'gather_reply', attempt: 1, reply: 'join' },
      { kind: 'outcome', outcome: 'accepted', staffId: 'st-ana', attempt: 1, legSid: 'CAleg1' },
      { kind: 'finished', result: 'accepted', staffId: 'st-ana', legSid: 'CAleg1' },
    ]);
    expect(d.log.some((e) => e.kind === 'release')).toBe(false);
    expect(nextDeadline(d.state)).toBeUndefined();
  });

  it('no_answer, then the next person (never the same one) accepts', () => {
    const d = new Driver();
    const a1 = ring(d, ana, 0, 'CAleg1');
    expect(d.feed({ type: 'leg', attempt: a1, legSid: 'CAleg1', status: 'no-answer' }, 25_000)).toEqual([
      { kind: 'outcome', outcome: 'no_answer', staffId: 'st-ana', attempt: 1, legSid: 'CAleg1', detail: 'no-answer' },
      { kind: 'release', staffId: 'st-ana' },
      { kind: 'find_candidate', exclude: ['st-ana'] },
    ]);
    const a2 = ring(d, bo, 25_010, 'CAleg2');
    expect(a2).toBe(2);
    d.feed({ type: 'leg', attempt: a2, legSid: 'CAleg2', status: 'answered' }, 27_000);
    expect(d.feed({ type: 'digit', attempt: a2, digits: '1' }, 30_000).map((e) => e.kind)).toEqual(['gather_reply', 'outcome', 'finished']);
    expect(d.state.result).toBe('accepted');
  });

  it('declined: pressing 2 ends the leg through the gather reply; busy (a rejection) is declined too', () => {
    const d = new Driver();
    const a1 = ring(d, ana, 0, 'CAleg1');
    d.feed({ type: 'leg', attempt: a1, legSid: 'CAleg1', status: 'answered' }, 2000);
    expect(d.feed({ type: 'digit', attempt: a1, digits: '2' }, 5000)).toEqual([
      { kind: 'gather_reply', attempt: 1, reply: 'hangup' },
      { kind: 'outcome', outcome: 'declined', staffId: 'st-ana', attempt: 1, legSid: 'CAleg1', detail: 'pressed_2' },
      { kind: 'release', staffId: 'st-ana' },
      { kind: 'find_candidate', exclude: ['st-ana'] },
    ]);
    const a2 = ring(d, bo, 5000, 'CAleg2');
    const busy = d.feed({ type: 'leg', attempt: a2, legSid: 'CAleg2', status: 'busy' }, 7000);
    expect(busy[0]).toMatchObject({ kind: 'outcome', outcome: 'declined', detail: 'busy' });
    // Busy legs are over: nothing to cancel.
    expect(busy.some((e) => e.kind === 'cancel_leg')).toBe(false);
  });

  it('machine: nothing pressed reaches the action (actionOnEmptyResult) as empty digits', () => {
    const d = new Driver();
    const a = ring(d, ana, 0, 'CAleg1');
    d.feed({ type: 'leg', attempt: a, legSid: 'CAleg1', status: 'answered' }, 2000);
    const effects = d.feed({ type: 'digit', attempt: a, digits: '' }, 12_000);
    expect(effects[0]).toEqual({ kind: 'gather_reply', attempt: 1, reply: 'hangup' });
    expect(effects[1]).toMatchObject({ kind: 'outcome', outcome: 'machine', detail: 'nothing_pressed' });
  });

  it('failed: a Twilio error on the leg, or the REST create refused', () => {
    const d = new Driver();
    const a1 = ring(d, ana, 0, 'CAleg1');
    expect(d.feed({ type: 'leg', attempt: a1, status: 'failed' }, 1000)[0]).toMatchObject({ kind: 'outcome', outcome: 'failed' });
    const dial = d.feed({ type: 'candidate', candidate: bo }, 1100)[0] as { attempt: number };
    expect(d.feed({ type: 'leg_create_failed', attempt: dial.attempt, detail: '21215' }, 1200)).toEqual([
      { kind: 'outcome', outcome: 'failed', staffId: 'st-bo', attempt: 2, detail: '21215' },
      { kind: 'release', staffId: 'st-bo' },
      { kind: 'find_candidate', exclude: ['st-ana', 'st-bo'] },
    ]);
  });

  it('a person who hangs up during the brief has declined', () => {
    const d = new Driver();
    const a = ring(d, ana, 0, 'CAleg1');
    d.feed({ type: 'leg', attempt: a, legSid: 'CAleg1', status: 'answered' }, 2000);
    expect(d.feed({ type: 'leg', attempt: a, legSid: 'CAleg1', status: 'completed' }, 3000)[0]).toMatchObject({
      outcome: 'declined',
      detail: 'hung_up',
    });
  });
});

describe('warm transfer: the caller hangs up', () => {
  it('while the person is ringing: the leg is cancelled at once, the person released', () => {
    const d = new Driver();
    ring(d, ana, 0, 'CAleg1');
    expect(d.feed({ type: 'caller_hung_up' }, 5000)).toEqual([
      { kind: 'cancel_leg', legSid: 'CAleg1' },
      { kind: 'release', staffId: 'st-ana' },
      { kind: 'outcome', outcome: 'caller_hung_up', staffId: 'st-ana', attempt: 1, legSid: 'CAleg1' },
      { kind: 'finished', result: 'caller_hung_up' },
    ]);
    // The leg answering afterwards is ended too.
    expect(d.feed({ type: 'leg', attempt: 1, legSid: 'CAleg1', status: 'answered' }, 6000)).toEqual([{ kind: 'cancel_leg', legSid: 'CAleg1' }]);
  });

  it('before the leg’s SID is known: the cancel goes out as soon as the create answers', () => {
    const d = new Driver();
    d.feed({ type: 'candidate', candidate: ana }, 0);
    expect(d.feed({ type: 'caller_hung_up' }, 10).some((e) => e.kind === 'cancel_leg')).toBe(false);
    expect(d.feed({ type: 'leg_created', attempt: 1, legSid: 'CAlate' }, 20)).toEqual([{ kind: 'cancel_leg', legSid: 'CAlate' }]);
  });

  it('while looking for someone: a person found afterwards is given back', () => {
    const d = new Driver();
    expect(d.feed({ type: 'caller_hung_up' }, 10).map((e) => e.kind)).toEqual(['outcome', 'finished']);
    expect(d.feed({ type: 'candidate', candidate: ana }, 20)).toEqual([{ kind: 'release', staffId: 'st-ana' }]);
  });
});

describe('warm transfer: time', () => {
  it('nobody eligible: unavailable at once', () => {
    const d = new Driver();
    expect(d.feed({ type: 'no_candidate' }, 50)).toEqual([{ kind: 'finished', result: 'unavailable' }]);
  });

  it('maxWait: the leg ringing at the deadline is cancelled (no_answer, max_wait) and nobody else is tried', () => {
    const d = new Driver({ ...WARM, maxWaitMs: 30_000 });
    const a1 = ring(d, ana, 0, 'CAleg1');
    d.feed({ type: 'leg', attempt: a1, legSid: 'CAleg1', status: 'no-answer' }, 22_000);
    ring(d, bo, 22_000, 'CAleg2');
    expect(nextDeadline(d.state)).toBe(30_000);
    expect(d.feed({ type: 'timer' }, 29_999)).toEqual([]);
    expect(d.feed({ type: 'timer' }, 30_000)).toEqual([
      { kind: 'cancel_leg', legSid: 'CAleg2' },
      { kind: 'outcome', outcome: 'no_answer', staffId: 'st-bo', attempt: 2, legSid: 'CAleg2', detail: 'max_wait' },
      { kind: 'release', staffId: 'st-bo' },
      { kind: 'finished', result: 'unavailable' },
    ]);
  });

  it('a status callback that never comes: ringSeconds + grace, then no_answer (ring_timeout)', () => {
    const d = new Driver();
    ring(d, ana, 0, 'CAleg1');
    expect(nextDeadline(d.state)).toBe(20_000 + RING_GRACE_MS);
    expect(d.feed({ type: 'timer' }, 20_000 + RING_GRACE_MS)[1]).toMatchObject({ outcome: 'no_answer', detail: 'ring_timeout' });
  });

  it('a gather that never reports: failed after BRIEF_MAX_MS, the leg ended', () => {
    const d = new Driver();
    const a = ring(d, ana, 0, 'CAleg1');
    d.feed({ type: 'leg', attempt: a, legSid: 'CAleg1', status: 'answered' }, 3000);
    expect(nextDeadline(d.state)).toBe(3000 + BRIEF_MAX_MS);
    const effects = d.feed({ type: 'timer' }, 3000 + BRIEF_MAX_MS);
    expect(effects.slice(0, 2)).toEqual([
      { kind: 'cancel_leg', legSid: 'CAleg1' },
      { kind: 'outcome', outcome: 'failed', staffId: 'st-ana', attempt: 1, legSid: 'CAleg1', detail: 'no_gather_result' },
    ]);
  });

  it('a person answering the brief at the deadline may still accept (the brief is bounded by its gather)', () => {
    const d = new Driver({ ...WARM, maxWaitMs: 30_000 });
    const a = ring(d, ana, 0, 'CAleg1');
    d.feed({ type: 'leg', attempt: a, legSid: 'CAleg1', status: 'answered' }, 29_000);
    expect(d.feed({ type: 'timer' }, 30_000)).toEqual([]);
    expect(d.feed({ type: 'digit', attempt: a, digits: '1' }, 35_000).at(-1)).toMatchObject({ kind: 'finished', result: 'accepted' });
  });

  it('a candidate found after maxWait is released and the transfer is unavailable', () => {
    const d = new Driver({ ...WARM, maxWaitMs: 1000 });
    expect(d.feed({ type: 'candidate', candidate: ana }, 1000)).toEqual([
      { kind: 'release', staffId: 'st-ana' },
      { kind: 'finished', result: 'unavailable' },
    ]);
  });
});

describe('assume: the person joins on answer, nobody else is tried', () => {
  it('answered is accepted (no brief)', () => {
    const d = new Driver(ASSUME);
    const a = ring(d, ana, 0, 'CAp1');
    expect(d.feed({ type: 'leg', attempt: a, legSid: 'CAp1', status: 'answered' }, 3000).map((e) => e.kind)).toEqual(['outcome', 'finished']);
    expect(d.state.result).toBe('accepted');
  });

  it('no answer: unavailable (the AI takes the caller back), no second person', () => {
    const d = new Driver(ASSUME);
    const a = ring(d, ana, 0, 'CAp1');
    expect(d.feed({ type: 'leg', attempt: a, legSid: 'CAp1', status: 'no-answer' }, 25_000).map((e) => e.kind)).toEqual([
      'outcome',
      'release',
      'finished',
    ]);
    expect(d.state.result).toBe('unavailable');
  });
});

describe('warm transfer: invariants under any order of events', () => {
  const people = ['p1', 'p2', 'p3', 'p4'];
  const event = fc.oneof(
    fc.record({ type: fc.constant('candidate' as const), who: fc.constantFrom(...people) }),
    fc.record({ type: fc.constant('no_candidate' as const) }),
    fc.record({ type: fc.constant('leg_created' as const), back: fc.integer({ min: 0, max: 2 }) }),
    fc.record({ type: fc.constant('leg_create_failed' as const), back: fc.integer({ min: 0, max: 2 }) }),
    fc.record({
      type: fc.constant('leg' as const),
      back: fc.integer({ min: 0, max: 2 }),
      status: fc.constantFrom('initiated', 'ringing', 'answered', 'busy', 'no-answer', 'failed', 'canceled', 'completed' as const),
    }),
    fc.record({ type: fc.constant('digit' as const), back: fc.integer({ min: 0, max: 2 }), digits: fc.constantFrom('1', '2', '', '9') }),
    fc.record({ type: fc.constant('caller_hung_up' as const) }),
    fc.record({ type: fc.constant('timer' as const) }),
  );

  it('one leg at a time; nobody rung twice; every slot taken is given back except the accepted one; finished once', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(event, fc.integer({ min: 0, max: 15_000 })), { maxLength: 60 }), fc.boolean(), (steps, confirm) => {
        const d = new Driver({ ...WARM, confirm, maxWaitMs: 60_000 });
        let now = 0;
        const live = new Set<number>(); // attempts dialled whose outcome is not known yet
        const dialled: string[] = [];
        const released = new Map<string, number>();
        // Each candidate handed over is a session slot taken by assignment.
        const taken = new Map<string, number>();
        let finished = 0;
        let accepted: string | undefined;
        for (const [e, dt] of steps) {
          now += dt;
          const attempt = Math.max(1, d.state.attempts - ('back' in e ? e.back : 0));
          const legSid = `CA${attempt}`;
          const ev: WarmTransferEvent =
            e.type === 'candidate'
              ? { type: 'candidate', candidate: { staffId: e.who, dial: `+1555${e.who}` } }
              : e.type === 'leg_created'
                ? { type: 'leg_created', attempt, legSid }
                : e.type === 'leg_create_failed'
                  ? { type: 'leg_create_failed', attempt }
                  : e.type === 'leg'
                    ? { type: 'leg', attempt, legSid, status: e.status }
                    : e.type === 'digit'
                      ? { type: 'digit', attempt, digits: e.digits }
                      : { type: e.type };
          if (ev.type === 'candidate') taken.set(ev.candidate.staffId, (taken.get(ev.candidate.staffId) ?? 0) + 1);
          for (const effect of d.feed(ev, now)) {
            if (effect.kind === 'dial') {
              expect(finished).toBe(0);
              expect(live.size).toBe(0);
              expect(dialled).not.toContain(effect.candidate.staffId);
              dialled.push(effect.candidate.staffId);
              live.add(effect.attempt);
            }
            if (effect.kind === 'outcome' && effect.attempt !== undefined) live.delete(effect.attempt);
            if (effect.kind === 'release') released.set(effect.staffId, (released.get(effect.staffId) ?? 0) + 1);
            if (effect.kind === 'finished') {
              finished++;
              if (effect.result === 'accepted') accepted = effect.staffId;
            }
          }
          if (d.state.phase === 'done') expect(live.size === 0 || accepted !== undefined).toBe(true);
        }
        expect(finished).toBeLessThanOrEqual(1);
        for (const [who, n] of released) expect(n).toBeLessThanOrEqual(taken.get(who) ?? 0);
        // Once over, every slot taken has been given back, except the accepted person's one.
        if (finished) for (const [who, n] of taken) expect(released.get(who) ?? 0).toBe(n - (who === accepted ? 1 : 0));
      }),
      { numRuns: 500 },
    );
  });
});
