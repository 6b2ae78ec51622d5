import { describe, expect, it } from 'vitest';
import { parseInbound, parseMediaFast } from '../../../src/telephony/messages.js';

/**
 * The inbound media fast path must read exactly what the general JSON path
 * reads, and step aside for anything it does not recognise.
 */
const MZ = 'MZ' + 'a1'.repeat(16);
const payload = Buffer.from(Array.from({ length: 160 }, (_, i) => (i * 37) & 0xff)).toString('base64');
const media = { track: 'inbound', chunk: '17', timestamp: '340', payload };

const twilioOrder = JSON.stringify({ event: 'media', sequenceNumber: '19', media, streamSid: MZ });
const sidFirst = JSON.stringify({ event: 'media', sequenceNumber: '19', streamSid: MZ, media });

describe('inbound media fast path', () => {
  it('reads both layouts exactly as the JSON path does', () => {
    for (const text of [twilioOrder, sidFirst]) {
      const fast = parseMediaFast(Buffer.from(text));
      expect(fast).toEqual({ event: 'media', streamSid: MZ, track: 'inbound', chunk: 17, timestampMs: 340, payload });
      // A string takes the general (JSON.parse) path; a Buffer the fast one.
      expect(parseInbound(Buffer.from(text))).toEqual(parseInbound(text));
    }
  });

  it('steps aside for anything else, and the general path still answers the same', () => {
    const variants = [
      JSON.stringify({ event: 'media', sequenceNumber: '19', media: { ...media, extra: 1 }, streamSid: MZ }),
      JSON.stringify({ event: 'media', media, streamSid: MZ }),
      JSON.stringify({ event: 'media', sequenceNumber: '19', media: { ...media, payload: 'ab\\"c' }, streamSid: MZ }),
      JSON.stringify({ event: 'media', sequenceNumber: '19', media: { ...media, track: 'inbound\u00e9' }, streamSid: MZ }),
      JSON.stringify({ event: 'media', sequenceNumber: '19', media: { ...media, chunk: 17 }, streamSid: MZ }),
      twilioOrder + ' ',
      twilioOrder.slice(0, -1),
      JSON.stringify({ event: 'mark', sequenceNumber: '3', streamSid: MZ, mark: { name: '1:0' } }),
      '{"event":"media"',
    ];
    for (const text of variants) {
      expect(parseMediaFast(Buffer.from(text))).toBeUndefined();
      expect(parseInbound(Buffer.from(text))).toEqual(parseInbound(text));
    }
    expect(parseInbound(Buffer.from(twilioOrder.slice(0, -1)))).toEqual({ event: 'ignored', reason: 'not_json' });
  });
});
