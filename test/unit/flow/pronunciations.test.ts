import { describe, expect, it } from 'vitest';
import { applyPronunciations } from '../../../src/flow/pronunciations.js';

describe('applyPronunciations', () => {
  const rules = [
    { text: 'Acme', say: 'Ack-mee' },
    { text: 'SQL', say: 'sequel' },
    { text: 'Dr.', say: 'Doctor' },
    { text: 'Dr. Who', say: 'Doctor Who, the show' },
    { text: 'a.m.', say: 'A M' },
  ];

  it('replaces whole words, case-insensitively', () => {
    expect(applyPronunciations('Welcome to ACME and acme.', rules)).toBe('Welcome to Ack-mee and Ack-mee.');
    expect(applyPronunciations('Acmes and MySQL stay.', rules)).toBe('Acmes and MySQL stay.');
    expect(applyPronunciations('sql, SQL!', rules)).toBe('sequel, sequel!');
  });

  it('longest rule wins and replaced text is not replaced again', () => {
    expect(applyPronunciations('Dr. Who meets Dr. Smith at 9 a.m. today', rules)).toBe('Doctor Who, the show meets Doctor Smith at 9 A M today');
    expect(applyPronunciations('SQL', [{ text: 'SQL', say: 'sequel' }, { text: 'sequel', say: 'NO' }])).toBe('sequel');
  });

  it('returns the text unchanged without rules, and never mutates its input', () => {
    expect(applyPronunciations('Acme', [])).toBe('Acme');
    expect(applyPronunciations('Acme', undefined)).toBe('Acme');
    const original = 'Acme';
    applyPronunciations(original, rules);
    expect(original).toBe('Acme');
  });

  it('works with letters outside ASCII as word boundaries', () => {
    expect(applyPronunciations('Café Acme, éAcme', rules)).toBe('Café Ack-mee, éAcme');
  });
});
