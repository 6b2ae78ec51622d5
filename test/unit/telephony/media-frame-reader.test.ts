import { describe, expect, it } from 'vitest';
import { MediaFrameReader } from '../../../src/telephony/media-frame-reader.js';
import { decodePayload, parseInbound } from '../../../src/telephony/messages.js';

/**
 * The live stream's media reader must yield exactly the bytes and timestamp
 * the general path (parse, then base64-decode) yields, for every frame it
 * takes, and step aside for everything else.
 */
const MZ = 'MZ' + 'a1'.repeat(16);
const audio = Buffer.from(Array.from({ length: 160 }, (_, i) => (i * 37) & 0xff));
const payload = audio.toString('base64');
const media = { track: 'inbound', chunk: '17', timestamp: '340', payload };
const twilioOrder = JSON.stringify({ event: 'media', sequenceNumber: '19', media, streamSid: MZ });
const sidFirst = JSON.stringify({ event: 'media', sequenceNumber: '19', streamSid: MZ, media });

/** What the general path hands the call for `text`, or undefined when it hands it nothing. */
function general(text: Buffer): { bytes: Buffer; timestampMs: number } | undefined {
  const msg = parseInbound(Buffer.from(text));
  if (msg.event !== 'media' || msg.streamSid !== MZ) return undefined;
  return { bytes: decodePayload(msg.payload), timestampMs: msg.timestampMs };
}

function read(reader: MediaFrameReader, text: Buffer) {
  const bytes = reader.read(text);
  return bytes ? { bytes: Buffer.from(bytes), timestampMs: reader.timestampMs } : undefined;
}

describe('MediaFrameReader', () => {
  it('reads both Twilio layouts as the general path does, into one reused buffer', () => {
    const reader = new MediaFrameReader(MZ);
    for (const text of [twilioOrder, sidFirst]) {
      const frame = Buffer.from(text);
      expect(read(reader, frame)).toEqual({ bytes: audio, timestampMs: 340 });
      expect(read(reader, frame)).toEqual(general(frame));
    }
    expect(reader.read(Buffer.from(twilioOrder))).toBe(reader.read(Buffer.from(sidFirst)));
  });

  it('decodes every length the way Buffer does', () => {
    const reader = new MediaFrameReader(MZ);
    for (let n = 0; n <= 40; n++) {
      const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i * 89 + n) & 0xff));
      const frame = Buffer.from(JSON.stringify({ event: 'media', sequenceNumber: '1', media: { ...media, payload: bytes.toString('base64') }, streamSid: MZ }));
      expect(read(reader, frame)).toEqual({ bytes, timestampMs: 340 });
    }
  });

  it('reads odd payloads and long timestamps exactly as the general path does', () => {
    const reader = new MediaFrameReader(MZ);
    for (const odd of [
      { ...media, payload: payload.slice(0, -1) },
      { ...media, payload: 'AB=C' + payload },
      { ...media, payload: '====' },
      { ...media, payload: '' },
      { ...media, timestamp: '1'.repeat(25) },
    ]) {
      const frame = Buffer.from(JSON.stringify({ event: 'media', sequenceNumber: '19', media: odd, streamSid: MZ }));
      expect(read(reader, frame)).toEqual(general(frame));
    }
  });

  it('steps aside for other streams and other messages', () => {
    const reader = new MediaFrameReader(MZ);
    const variants = [
      JSON.stringify({ event: 'media', sequenceNumber: '19', media, streamSid: 'MZother' }),
      JSON.stringify({ event: 'media', sequenceNumber: '19', streamSid: 'MZother', media }),
      JSON.stringify({ event: 'media', sequenceNumber: '19', media: { ...media, extra: 1 }, streamSid: MZ }),
      JSON.stringify({ event: 'media', media, streamSid: MZ }),
      JSON.stringify({ event: 'mark', sequenceNumber: '3', streamSid: MZ, mark: { name: '1:0' } }),
      twilioOrder + ' ',
      twilioOrder.slice(0, -1),
      '{"event":"media"',
    ];
    for (const text of variants) expect(reader.read(Buffer.from(text))).toBeUndefined();
    // A streamSid outside the fast pattern's alphabet never takes this path.
    const odd = 'MZ-1';
    expect(new MediaFrameReader(odd).read(Buffer.from(twilioOrder.replace(MZ, odd)))).toBeUndefined();
  });

  it('agrees with the general path on damaged frames: whatever it takes, the general path reads the same', () => {
    const reader = new MediaFrameReader(MZ);
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const alphabet = Buffer.from('"{}:,=+/09azAZ_\\ é');
    let taken = 0;
    for (let n = 0; n < 5000; n++) {
      const frame = Buffer.from(random() < 0.5 ? twilioOrder : sidFirst);
      const edits = 1 + Math.floor(random() * 2);
      for (let e = 0; e < edits; e++) frame[Math.floor(random() * frame.length)] = alphabet[Math.floor(random() * alphabet.length)]!;
      const fast = read(reader, frame);
      if (fast) {
        taken++;
        expect(fast).toEqual(general(frame));
      }
    }
    // Damage inside the payload or the numbers keeps many frames valid: the comparison ran.
    expect(taken).toBeGreaterThan(100);
  });
});
