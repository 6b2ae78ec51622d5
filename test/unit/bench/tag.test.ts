import { describe, expect, it } from 'vitest';
import { readTag, taggedFrame } from '../../../bench/lib/fakes.js';

describe('call tag in the first audio frame', () => {
  it('round-trips the call id and is otherwise μ-law silence', () => {
    const frame = taggedFrame(123_456);
    expect(frame).toHaveLength(160);
    expect(readTag(frame)).toBe(123_456);
    expect(frame.subarray(8).every((b) => b === 0xff)).toBe(true);
  });

  it('plain audio and short chunks carry no tag', () => {
    expect(readTag(Buffer.alloc(160, 0xff))).toBeUndefined();
    expect(readTag(taggedFrame(7).subarray(0, 6))).toBeUndefined();
  });
});
