import { describe, expect, it } from 'vitest';
import { slugCandidates, slugify, slugProblem } from '../../../src/agents/slugs.js';

describe('agent slugs', () => {
  it.each([
    ['Pizza Palace – Downtown', 'pizza-palace-downtown'],
    ['Café Crème', 'cafe-creme'],
    ['Русский', 'russkiy'],
    ['Клиника Здоровье', 'klinika-zdorove'],
    ['Ελληνικά', 'ellinika'],
    ['Straße', 'strasse'],
    ['日本語', 'agent'],
    ['🍕🍕', 'agent'],
    ['   ', 'agent'],
  ])('%s → %s', (name, slug) => {
    expect(slugify(name)).toBe(slug);
  });

  it('a taken generated slug moves on: base, base-2 … base-9, then random suffixes, all valid', () => {
    const gen = slugCandidates('agent');
    const first = Array.from({ length: 12 }, () => gen.next().value as string);
    expect(first.slice(0, 9)).toEqual(['agent', 'agent-2', 'agent-3', 'agent-4', 'agent-5', 'agent-6', 'agent-7', 'agent-8', 'agent-9']);
    expect(first[9]).toMatch(/^agent-[0-9a-f]{6}$/);
    expect(new Set(first).size).toBe(12);
    const long = slugCandidates('x'.repeat(64));
    long.next();
    expect(slugProblem(long.next().value as string)).toBeUndefined();
  });

  it('slugs and agent ids are disjoint: a chosen slug may not start with the id prefix', () => {
    expect(slugProblem('ag_0190a1b2c3d40000ab12cd34ef')).toMatch(/ag_/);
    expect(slugProblem('Bad Slug')).toMatch(/lowercase/);
    expect(slugProblem('agent-desk')).toBeUndefined();
  });
});
