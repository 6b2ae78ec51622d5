import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../../src/http/request-body.js';

/** docs/reliability.md stays true: every test it names exists in the suite. */
const root = join(import.meta.dirname, '../..');

function testSources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...testSources(path));
    else if (entry.endsWith('.test.ts')) out.push(readFileSync(path, 'utf8'));
  }
  return out;
}

describe('docs/reliability.md', () => {
  it('names only tests that exist', () => {
    const doc = readFileSync(join(root, 'docs/reliability.md'), 'utf8');
    const rows = doc.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| fault') && !line.startsWith('| ---'));
    expect(rows.length).toBeGreaterThan(10);
    // Titles as written in the sources; a template literal's `${MAX_JSON_DEPTH}` is the number in the doc.
    const sources = testSources(join(root, 'test')).join('\n').replaceAll('${MAX_JSON_DEPTH}', String(MAX_JSON_DEPTH));
    const missing: string[] = [];
    for (const row of rows) {
      const cell = row.split(' | ').at(-1)!.replace(/ \|$/, '');
      for (const [, name] of cell.matchAll(/`([^`]+)`/g)) {
        if (!sources.includes(`'${name}'`) && !sources.includes(`\`${name}\``)) missing.push(name!);
      }
    }
    expect(missing).toEqual([]);
  });
});
