import { MULAW_SAMPLE_RATE_HZ, MULAW_SILENCE, linearToMulaw } from './mulaw.js';

/**
 * Deterministic stand-in speech for fakes (the in-process TTS fake and the
 * loopback ElevenLabs): a quiet tone whose pitch follows the characters, silent
 * on spaces, so the same text always gives the same bytes and a recorded WAV is
 * audibly "words". Not a domain feature; lives here so both fakes share it.
 */

/** 10 ms of audio per character: roughly a fast talker, and easy arithmetic in tests. */
export const FAKE_SPEECH_BYTES_PER_CHAR = 80;
/** About −24 dBFS: audible in a recording, not painful. */
const AMPLITUDE = 2000;

export function fakeSpeech(text: string, bytesPerChar = FAKE_SPEECH_BYTES_PER_CHAR): Uint8Array {
  const out = new Uint8Array(text.length * bytesPerChar);
  let phase = 0;
  for (let c = 0; c < text.length; c++) {
    const code = text.charCodeAt(c);
    const base = c * bytesPerChar;
    if (/\s/.test(text[c]!)) {
      out.fill(MULAW_SILENCE, base, base + bytesPerChar);
      continue;
    }
    const freqHz = 220 + (code % 32) * 15;
    const step = (2 * Math.PI * freqHz) / MULAW_SAMPLE_RATE_HZ;
    for (let i = 0; i < bytesPerChar; i++) {
      out[base + i] = linearToMulaw(Math.round(AMPLITUDE * Math.sin(phase)));
      phase += step;
    }
  }
  return out;
}
