import { describe, expect, it } from 'vitest';
import { Reframer, assertFrameBytes, reframe } from '../../../src/core/audio/frames.js';

const bytes = (n: number, start = 0) => Uint8Array.from({ length: n }, (_, i) => (start + i) % 200);

describe('Reframer', () => {
  it('turns uneven chunks into fixed 800-byte frames without losing or reordering a byte', () => {
    const r = new Reframer();
    const input = bytes(2000);
    const frames = [...r.push(input.subarray(0, 7)), ...r.push(input.subarray(7, 1201)), ...r.push(input.subarray(1201))];
    expect(frames.map((f) => f.length)).toEqual([800, 800]);
    expect(r.pendingBytes).toBe(400);
    const last = r.flush()!;
    expect(last.length).toBe(480); // padded to a whole 20 ms
    const joined = Uint8Array.from([...frames.flatMap((f) => [...f]), ...last]);
    expect([...joined.subarray(0, 2000)]).toEqual([...input]);
    expect([...joined.subarray(2000)].every((b) => b === 0xff)).toBe(true);
  });

  it('pads the tail to a whole frame in "frame" mode', () => {
    const frames = reframe([bytes(900)], { frameBytes: 320, padMode: 'frame' });
    expect(frames.map((f) => f.length)).toEqual([320, 320, 320]);
    expect([...frames[2]!.subarray(260)].every((b) => b === 0xff)).toBe(true);
  });

  it('emits nothing on flush when the stream ended on a frame boundary', () => {
    const r = new Reframer({ frameBytes: 160 });
    expect(r.push(bytes(320))).toHaveLength(2);
    expect(r.flush()).toBeUndefined();
  });

  it('does not reuse a returned frame when more bytes arrive', () => {
    const r = new Reframer({ frameBytes: 160 });
    const [a] = r.push(bytes(160, 0));
    const copy = [...a!];
    r.push(bytes(160, 50));
    expect([...a!]).toEqual(copy);
  });

  it('drops held-back bytes on reset', () => {
    const r = new Reframer({ frameBytes: 160 });
    r.push(bytes(100));
    r.reset();
    expect(r.pendingBytes).toBe(0);
    expect(r.flush()).toBeUndefined();
  });

  it('rejects frame sizes that are not positive multiples of 160', () => {
    for (const bad of [0, -160, 100, 161, 1.5]) expect(() => assertFrameBytes(bad)).toThrow(/multiple of 160/);
    expect(() => new Reframer({ frameBytes: 500 })).toThrow(RangeError);
    expect(() => assertFrameBytes(480)).not.toThrow();
  });
});
