import { describe, expect, it } from 'vitest';
import { newId } from '../../../src/store/ids.js';

/** Ids sort by creation time and never repeat, across refills of the random pool (src/store/ids.ts). */
describe('newId', () => {
  it('is prefix, 12 hex digits of ms, a 4-digit sequence and 10 random hex digits; in order and distinct over many pool refills', () => {
    const made = Array.from({ length: 5000 }, (_, i) => newId('ce', 1_800_000_000_000 + Math.floor(i / 3)));
    for (const id of made) expect(id).toMatch(/^ce_[0-9a-f]{12}[0-9a-f]{4}[0-9a-f]{10}$/);
    expect(new Set(made).size).toBe(made.length);
    expect([...made].sort()).toEqual(made);
    // The random parts differ too, not only the time and sequence.
    expect(new Set(made.map((id) => id.slice(-10))).size).toBe(made.length);
  });
});
