import { describe, expect, it } from 'vitest';
import { AgentAdmission, RATE_WINDOW_MS } from '../../../src/outbound/admission.js';

/** Invariant: a slot is free only below maxConcurrent, and a start only below perMinute within the last 60 s. */
describe('AgentAdmission', () => {
  it('refuses past maxConcurrent until a slot is released', () => {
    const a = new AgentAdmission();
    const limits = { maxConcurrent: 2, perMinute: 100 };
    for (let i = 0; i < 2; i++) {
      expect(a.check(limits, 0)).toEqual({ ok: true });
      a.take(0);
    }
    expect(a.check(limits, 0)).toEqual({ ok: false, reason: 'concurrency' });
    a.release();
    expect(a.check(limits, 1)).toEqual({ ok: true });
    expect(a.inFlight).toBe(1);
  });

  it('refuses past perMinute in a sliding window and says when the oldest start leaves it', () => {
    const a = new AgentAdmission();
    const limits = { maxConcurrent: 100, perMinute: 3 };
    for (const t of [0, 10_000, 20_000]) {
      expect(a.check(limits, t).ok).toBe(true);
      a.take(t);
      a.release();
    }
    expect(a.check(limits, 59_999)).toEqual({ ok: false, reason: 'rate', retryAtMs: RATE_WINDOW_MS });
    expect(a.check(limits, RATE_WINDOW_MS)).toEqual({ ok: true });
  });

  it('a release without a slot taken never goes below zero', () => {
    const a = new AgentAdmission();
    a.release();
    expect(a.inFlight).toBe(0);
    expect(a.check({ maxConcurrent: 1, perMinute: 1 }, 0).ok).toBe(true);
  });
});
