import { describe, expect, it } from 'vitest';
import {
  MULAW_DECODE_TABLE,
  MULAW_ENCODE_TABLE,
  decodeMulaw,
  encodeMulaw,
  linearToMulaw,
  mulawDurationMs,
  mulawToLinear,
} from '../../../src/core/audio/mulaw.js';

// The reference algorithm of ITU-T G.711 (bit-probing loop; docs/protocols.md#g711-audio), written
// out here so the table-driven codec is checked against an independent implementation.
const BIAS = 0x84;
const CLIP = 32635;
function referenceLinearToMulaw(sample: number): number {
  const sign = (sample >> 8) & 0x80;
  let s = sign ? -sample : sample;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; exponent--, mask >>= 1) {
    /* find segment */
  }
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}
function referenceMulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  return u & 0x80 ? -magnitude : magnitude;
}

describe('μ-law codec', () => {
  it('encodes all 65,536 int16 samples exactly like the G.711 reference', () => {
    let mismatches = 0;
    for (let sample = -32768; sample <= 32767; sample++) {
      if (linearToMulaw(sample) !== referenceLinearToMulaw(sample)) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(MULAW_ENCODE_TABLE.length).toBe(65536);
  });

  it('decodes all 256 bytes exactly like the reference', () => {
    expect(MULAW_DECODE_TABLE.length).toBe(256);
    for (let b = 0; b < 256; b++) expect(mulawToLinear(b)).toBe(referenceMulawToLinear(b) | 0); // | 0: the reference gives −0 for 0x7f
  });

  it('knows the fixed points: silence and the extremes', () => {
    expect(linearToMulaw(0)).toBe(0xff);
    expect(mulawToLinear(0xff)).toBe(0);
    expect(mulawToLinear(0x7f)).toBe(0);
    expect(mulawToLinear(0x00)).toBe(-32124);
    expect(mulawToLinear(0x80)).toBe(32124);
    expect(linearToMulaw(32767)).toBe(0x80);
    expect(linearToMulaw(-32768)).toBe(0x00);
  });

  it('round-trips every byte except negative zero (decode then encode is the identity)', () => {
    for (let b = 0; b < 256; b++) {
      const expected = b === 0x7f ? 0xff : b;
      expect(linearToMulaw(mulawToLinear(b))).toBe(expected);
    }
  });

  it('encodes and decodes whole buffers, into a given output buffer too', () => {
    const pcm = Int16Array.from([0, 1000, -1000, 32767, -32768]);
    const mu = encodeMulaw(pcm);
    expect([...mu]).toEqual([...pcm].map(referenceLinearToMulaw));
    const out = new Int16Array(5);
    expect(decodeMulaw(mu, out)).toBe(out);
    expect([...out]).toEqual([...mu].map((b) => referenceMulawToLinear(b) | 0));
  });

  it('rejects an output buffer that is too short', () => {
    expect(() => encodeMulaw(new Int16Array(4), new Uint8Array(3))).toThrow(RangeError);
    expect(() => decodeMulaw(new Uint8Array(4), new Int16Array(3))).toThrow(RangeError);
  });

  it('measures duration as bytes / 8 ms', () => {
    expect(mulawDurationMs(800)).toBe(100);
    expect(mulawDurationMs(160)).toBe(20);
  });
});
