import { describe, expect, it } from 'vitest';
import { fakeSpeech } from '../../../src/core/audio/tone.js';
import { decodeMulaw } from '../../../src/core/audio/mulaw.js';

describe('fake speech tone', () => {
  it('is deterministic per text, 80 bytes per character, silent on spaces and quiet elsewhere', () => {
    const a = fakeSpeech('Hi there');
    expect(a.length).toBe(8 * 80);
    expect([...fakeSpeech('Hi there')]).toEqual([...a]);
    expect([...fakeSpeech('Hi thera')]).not.toEqual([...a]);
    expect([...a.subarray(2 * 80, 3 * 80)].every((b) => b === 0xff)).toBe(true);
    const pcm = decodeMulaw(a);
    const peak = pcm.reduce((m, s) => Math.max(m, Math.abs(s)), 0);
    expect(peak).toBeGreaterThan(1000);
    expect(peak).toBeLessThan(2200);
  });
});
