/**
 * The circuit breaker is a pure state machine on the time it is given:
 * closed → open after N failures in a row, open refuses until openMs has
 * passed, then half-open admits exactly one probe whose verdict closes or
 * re-opens it.
 */
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type BreakerTransition } from '../../../src/providers/breaker.js';

const policy = { failureThreshold: 3, openMs: 1_000 };

describe('CircuitBreaker', () => {
  it('opens after the threshold of failures in a row; a success in between resets the count', () => {
    const b = new CircuitBreaker(policy);
    b.failure(0);
    b.failure(0);
    b.success();
    b.failure(0);
    b.failure(0);
    expect(b.state(0)).toBe('closed');
    b.failure(5);
    expect(b.state(5)).toBe('open');
    expect(b.tryAcquire(500)).toBe(false);
  });

  it('half-opens after openMs and admits one probe at a time', () => {
    const b = new CircuitBreaker(policy);
    for (let i = 0; i < 3; i++) b.failure(100);
    expect(b.tryAcquire(1_099)).toBe(false);
    expect(b.state(1_100)).toBe('half_open');
    expect(b.tryAcquire(1_100)).toBe(true);
    expect(b.tryAcquire(1_101)).toBe(false);
    b.release();
    expect(b.tryAcquire(1_102)).toBe(true);
    b.success();
    expect(b.state(1_103)).toBe('closed');
    expect(b.tryAcquire(1_103)).toBe(true);
  });

  it('a failed probe opens it again for a full period', () => {
    const b = new CircuitBreaker(policy);
    for (let i = 0; i < 3; i++) b.failure(0);
    expect(b.tryAcquire(1_000)).toBe(true);
    b.failure(1_000);
    expect(b.state(1_999)).toBe('open');
    expect(b.state(2_000)).toBe('half_open');
  });

  it('reports every transition once, in order', () => {
    const seen: BreakerTransition[] = [];
    const b = new CircuitBreaker(policy, (t) => seen.push(t));
    for (let i = 0; i < 3; i++) b.failure(0);
    b.state(1_000);
    b.state(1_000);
    b.tryAcquire(1_000);
    b.success();
    expect(seen.map((t) => `${t.from}→${t.to}`)).toEqual(['closed→open', 'open→half_open', 'half_open→closed']);
    expect(seen[0]!.failures).toBe(3);
  });
});
