import { describe, expect, it } from 'vitest';
import { evaluateCondition } from '../../../src/flow/branch.js';

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
});
