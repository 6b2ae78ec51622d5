import { MULAW_SAMPLE_RATE_HZ } from './mulaw.js';

/**
 * WAV container for μ-law recordings (format tag 7, WAVE_FORMAT_MULAW): what the
 * call recorder and the Twilio simulator write so a call can be listened to.
 * Layout: RIFF/WAVE, an 18-byte `fmt ` chunk (non-PCM formats carry cbSize), a
 * `fact` chunk (required for non-PCM formats: the sample count) and `data`.
 */

export const WAVE_FORMAT_MULAW = 7;
const HEADER_BYTES = 12 + (8 + 18) + (8 + 4) + 8;

/** The 58-byte header for `dataBytes` bytes of mono 8-bit μ-law. */
export function mulawWavHeader(dataBytes: number, sampleRateHz = MULAW_SAMPLE_RATE_HZ): Uint8Array {
  if (!Number.isInteger(dataBytes) || dataBytes < 0) throw new RangeError('dataBytes must be a whole number ≥ 0');
  const header = new Uint8Array(HEADER_BYTES);
  const view = new DataView(header.buffer);
  const ascii = (offset: number, s: string) => {
    for (let i = 0; i < s.length; i++) header[offset + i] = s.charCodeAt(i);
  };
  const padded = dataBytes + (dataBytes % 2);
  ascii(0, 'RIFF');
  view.setUint32(4, HEADER_BYTES - 8 + padded, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 18, true);
  view.setUint16(20, WAVE_FORMAT_MULAW, true);
  view.setUint16(22, 1, true); // channels
  view.setUint32(24, sampleRateHz, true);
  view.setUint32(28, sampleRateHz, true); // byte rate: 1 byte per sample, mono
  view.setUint16(32, 1, true); // block align
  view.setUint16(34, 8, true); // bits per sample
  view.setUint16(36, 0, true); // cbSize
  ascii(38, 'fact');
  view.setUint32(42, 4, true);
  view.setUint32(46, dataBytes, true); // samples per channel
  ascii(50, 'data');
  view.setUint32(54, dataBytes, true);
  return header;
}

/** A complete WAV file of μ-law audio (chunks are concatenated). */
export function mulawWav(audio: Uint8Array | Iterable<Uint8Array>, sampleRateHz = MULAW_SAMPLE_RATE_HZ): Uint8Array {
  const chunks = audio instanceof Uint8Array ? [audio] : [...audio];
  const dataBytes = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(HEADER_BYTES + dataBytes + (dataBytes % 2));
  out.set(mulawWavHeader(dataBytes, sampleRateHz), 0);
  let offset = HEADER_BYTES;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

export interface ParsedWav {
  formatTag: number;
  channels: number;
  sampleRateHz: number;
  bitsPerSample: number;
  data: Uint8Array;
}

/** Reads a WAV file's format and data chunk (any format tag; tests and fixtures). */
export function parseWav(file: Uint8Array): ParsedWav {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const tag = (offset: number) => String.fromCharCode(...file.subarray(offset, offset + 4));
  if (file.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
  let offset = 12;
  let fmt: Omit<ParsedWav, 'data'> | undefined;
  while (offset + 8 <= file.length) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      fmt = {
        formatTag: view.getUint16(body, true),
        channels: view.getUint16(body + 2, true),
        sampleRateHz: view.getUint32(body + 4, true),
        bitsPerSample: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      if (!fmt) throw new Error('WAV data chunk before fmt chunk');
      return { ...fmt, data: file.subarray(body, Math.min(body + size, file.length)) };
    }
    offset = body + size + (size % 2);
  }
  throw new Error('WAV file has no data chunk');
}
