import { describe, expect, it } from 'vitest';
import { evaluateCondition } from '../../../src/flow/branch.js';
import { MAX_MATCH_INPUT_CHARS } from '../../../src/flow/regex.js';

describe('branch conditions', () => {
  it.each([
    [{ var: 'x', op: 'eq', value: 1 }, '1', true],
    [{ var: 'x', op: 'eq', value: '01' }, '1', false],
    [{ var: 'x', op: 'eq', value: true }, true, true],
    [{ var: 'x', op: 'eq', value: '' }, undefined, true],
    [{ var: 'x', op: 'neq', value: 'a' }, 'b', true],
    [{ var: 'x', op: 'neq', value: 'a' }, 'a', false],
    [{ var: 'x', op: 'contains', value: 'PIZ' }, 'big pizza', true],
    [{ var: 'x', op: 'contains', value: 'x' }, 'abc', false],
    [{ var: 'x', op: 'matches', value: '^\\d{4}$' }, '0042', true],
    [{ var: 'x', op: 'matches', value: '^\\d{4}$' }, '42', false],
    [{ var: 'x', op: 'matches', value: '([' }, 'anything', false],
    [{ var: 'x', op: 'gt', value: 10 }, '11', true],
    [{ var: 'x', op: 'gt', value: 10 }, 10, false],
    [{ var: 'x', op: 'gt', value: '9' }, '10', true],
    [{ var: 'x', op: 'lt', value: 10 }, '9.5', true],
    [{ var: 'x', op: 'lt', value: 10 }, 'abc', false],
    [{ var: 'x', op: 'gt', value: 'abc' }, 5, false],
    [{ var: 'x', op: 'lt', value: 10 }, '', false],
    [{ var: 'x', op: 'lt', value: 10 }, undefined, false],
    [{ var: 'x', op: 'exists' }, 'v', true],
    [{ var: 'x', op: 'exists', value: 'ignored' }, 0, true],
    [{ var: 'x', op: 'exists' }, undefined, false],
    [{ var: 'x', op: 'exists' }, '', false],
  ] as const)('%j on %j → %s', (condition, actual, expected) => {
    expect(evaluateCondition(condition, actual)).toBe(expected);
  });

  it('a catastrophic pattern cannot block the event loop: linear time, bounded input', () => {
    // The old evaluation took ~0.5 s for 23 a's and doubled per extra character.
    const started = performance.now();
    for (const [value, input] of [
      ['^(a+)+$', `${'a'.repeat(23)}!`],
      ['^(a|a)*$', `${'a'.repeat(40)}!`],
      ['^(\\w+\\s?)*$', `${'a'.repeat(1_990)}!`],
    ] as const) {
      expect(evaluateCondition({ var: 'x', op: 'matches', value }, input)).toBe(false);
    }
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('matches still works for ordinary patterns, on the first MAX_MATCH_INPUT_CHARS of the value', () => {
    expect(evaluateCondition({ var: 'x', op: 'matches', value: '^\\+1(555|800)' }, '+15550100')).toBe(true);
    expect(evaluateCondition({ var: 'x', op: 'matches', value: 'yes|yeah' }, 'oh yeah sure')).toBe(true);
    expect(evaluateCondition({ var: 'x', op: 'matches', value: 'END$' }, `${'a'.repeat(MAX_MATCH_INPUT_CHARS)}END`)).toBe(false);
  });
});
