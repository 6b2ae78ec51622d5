import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jsonDepth, strictSchema } from '../../../src/http/request-body.js';

describe('request body policy', () => {
  it.each([
    ['1', 0],
    ['{}', 1],
    ['[[1],[2,[3]]]', 3],
    ['{"a":"]]]{{{["}', 1],
    ['["a\\\\", [1]]', 2],
    ['{"x":"\\"[[["}', 1],
    ['"\\\\"', 0],
  ])('jsonDepth(%s) = %i: brackets inside strings and escapes do not count', (text, depth) => {
    expect(jsonDepth(text)).toBe(depth);
  });

  it('jsonDepth stops early past the limit', () => {
    expect(jsonDepth(`${'['.repeat(10_000)}${']'.repeat(10_000)}`, 64)).toBe(65);
  });

  it('strictSchema refuses unknown keys through optional/nullable wrappers and leaves loose objects loose', () => {
    expect(strictSchema(z.object({ a: z.number() })).safeParse({ a: 1, b: 2 }).success).toBe(false);
    const nullish = strictSchema(z.object({ a: z.number().optional() }).nullish());
    expect(nullish.safeParse(undefined).success).toBe(true);
    expect(nullish.safeParse(null).success).toBe(true);
    expect(nullish.safeParse({ b: 1 }).success).toBe(false);
    expect(strictSchema(z.looseObject({ a: z.number() })).safeParse({ a: 1, b: 2 }).success).toBe(true);
  });
});
