import { describe, expect, it } from 'vitest';
import { WAVE_FORMAT_MULAW, mulawWav, mulawWavHeader, parseWav } from '../../../src/core/audio/wav.js';
import { fakeSpeech } from '../../../src/core/audio/tone.js';

describe('μ-law WAV', () => {
  it('writes a format-7 mono 8 kHz file that reads back to the same audio', () => {
    const audio = fakeSpeech('Hello there.');
    const file = mulawWav([audio.subarray(0, 100), audio.subarray(100)]);
    const text = (o: number) => String.fromCharCode(...file.subarray(o, o + 4));
    expect(text(0)).toBe('RIFF');
    expect(text(8)).toBe('WAVE');
    const view = new DataView(file.buffer);
    expect(view.getUint32(4, true)).toBe(file.length - 8);
    const parsed = parseWav(file);
    expect(parsed).toMatchObject({ formatTag: WAVE_FORMAT_MULAW, channels: 1, sampleRateHz: 8000, bitsPerSample: 8 });
    expect([...parsed.data]).toEqual([...audio]);
  });

  it('pads an odd data chunk to an even length, as RIFF requires', () => {
    const file = mulawWav(new Uint8Array(3).fill(0xff));
    expect(file.length % 2).toBe(0);
    expect(parseWav(file).data.length).toBe(3);
  });

  it('writes the sample count in the fact chunk', () => {
    const header = mulawWavHeader(8000);
    expect(new DataView(header.buffer).getUint32(46, true)).toBe(8000);
    expect(header.length).toBe(58);
  });

  it('rejects a file that is not WAV', () => {
    expect(() => parseWav(new Uint8Array(20))).toThrow(/RIFF/);
    expect(() => mulawWavHeader(-1)).toThrow(RangeError);
  });
});
