/**
 * G.711 μ-law (PCMU), the phone leg's only audio format: 8 bits per sample,
 * 8000 samples/s, mono, so 8 bytes = 1 ms (docs/protocols.md#g711-audio). Both directions go
 * through lookup tables built once at load; the whole codec is two array reads.
 */

export const MULAW_SAMPLE_RATE_HZ = 8000;
/** μ-law bytes per millisecond of audio (one byte per sample at 8 kHz). */
export const MULAW_BYTES_PER_MS = MULAW_SAMPLE_RATE_HZ / 1000;
/** μ-law of +0: what silence and padding are made of. */
export const MULAW_SILENCE = 0xff;

const BIAS = 0x84;
const CLIP = 32635;

/**
 * Encodes one sample. Written from the G.711 segment definition (the exponent is
 * the position of the highest set bit) rather than the usual bit-probing loop, so
 * the unit test's loop-based reference checks an independent implementation.
 */
function encodeSample(sample: number): number {
  const negative = sample < 0;
  let magnitude = negative ? -sample : sample;
  if (magnitude > CLIP) magnitude = CLIP;
  magnitude += BIAS;
  // magnitude is in [132, 32767]: its highest set bit is bit 7..14 → exponent 0..7.
  const exponent = 31 - Math.clz32(magnitude) - 7;
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  return ~((negative ? 0x80 : 0) | (exponent << 4) | mantissa) & 0xff;
}

function decodeSample(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  return u & 0x80 ? -magnitude : magnitude;
}

/** μ-law byte → int16 sample. */
export const MULAW_DECODE_TABLE: Int16Array = (() => {
  const table = new Int16Array(256);
  for (let b = 0; b < 256; b++) table[b] = decodeSample(b);
  return table;
})();

/** int16 sample (indexed by `sample & 0xffff`) → μ-law byte. */
export const MULAW_ENCODE_TABLE: Uint8Array = (() => {
  const table = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) table[i] = encodeSample((i << 16) >> 16);
  return table;
})();

export function linearToMulaw(sample: number): number {
  return MULAW_ENCODE_TABLE[sample & 0xffff]!;
}

export function mulawToLinear(byte: number): number {
  return MULAW_DECODE_TABLE[byte & 0xff]!;
}

/** Encodes int16 samples; `out` (same length) may be passed to avoid allocating. */
export function encodeMulaw(samples: Int16Array, out: Uint8Array = new Uint8Array(samples.length)): Uint8Array {
  if (out.length < samples.length) throw new RangeError('encodeMulaw: output buffer is shorter than the input');
  const table = MULAW_ENCODE_TABLE;
  for (let i = 0; i < samples.length; i++) out[i] = table[samples[i]! & 0xffff]!;
  return out;
}

/** Decodes μ-law bytes; `out` (same length) may be passed to avoid allocating. */
export function decodeMulaw(bytes: Uint8Array, out: Int16Array = new Int16Array(bytes.length)): Int16Array {
  if (out.length < bytes.length) throw new RangeError('decodeMulaw: output buffer is shorter than the input');
  const table = MULAW_DECODE_TABLE;
  for (let i = 0; i < bytes.length; i++) out[i] = table[bytes[i]!]!;
  return out;
}

/** Duration of μ-law audio: `bytes / 8` ms. */
export function mulawDurationMs(byteCount: number): number {
  return byteCount / MULAW_BYTES_PER_MS;
}
