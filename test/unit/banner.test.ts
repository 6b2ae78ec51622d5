import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { adminKeyBanner, banner, showBanner } from '../../src/core/banner.js';
import { createLogger } from '../../src/core/logger.js';

/** Invariant: the generated admin key is shown framed, once, with what to do if it is lost. */

describe('banner', () => {
  it('frames the lines between rules as wide as the widest line', () => {
    const text = banner(['short', 'a longer line']);
    const lines = text.split('\n');
    expect(lines[1]).toBe('='.repeat('a longer line'.length + 4));
    expect(lines.slice(2, 4)).toEqual(['  short', '  a longer line']);
    expect(lines[4]).toBe(lines[1]);
  });

  it('the admin key banner shows the key on a line of its own, says it is shown once, and what to do if it is lost', () => {
    const key = 'vak_' + 'k'.repeat(43);
    const text = adminKeyBanner(key);
    expect(text.split('\n')).toContain(`      ${key}`);
    expect(text).toMatch(/only time it is shown/);
    expect(text).toMatch(/Authorization: Bearer/);
    expect(text).toMatch(/If it is lost: .*POST \/api\/v1\/api-keys/);
    expect(text).toMatch(/ADMIN_API_KEY/);
  });

  it('is written when warnings are logged, and not by a silenced logger', () => {
    const written: string[] = [];
    const out = new Writable({
      write(chunk, _enc, cb) {
        written.push(String(chunk));
        cb();
      },
    });
    showBanner('hello\n', createLogger('silent'), out);
    showBanner('hello\n', createLogger('error'), out);
    expect(written).toEqual([]);
    showBanner('hello\n', createLogger('info'), out);
    expect(written).toEqual(['hello\n']);
  });
});
