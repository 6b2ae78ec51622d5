import { describe, expect, it } from 'vitest';
import { IgnoredFrameCounter, OutboundSerializer, decodePayload, parseInbound } from '../../../src/telephony/messages.js';

const MZ = 'MZ' + '1'.repeat(32);

describe('media stream serializer: inbound never throws', () => {
  it('parses the messages Twilio sends', () => {
    expect(parseInbound('{"event":"connected","protocol":"Call","version":"1.0.0"}')).toEqual({ event: 'connected' });
    const start = parseInbound(
      JSON.stringify({
        event: 'start',
        sequenceNumber: '1',
        streamSid: MZ,
        start: {
          streamSid: MZ,
          accountSid: 'AC1',
          callSid: 'CA1',
          tracks: ['inbound'],
          customParameters: { token: 't', n: 5 },
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        },
      }),
    );
    expect(start).toEqual({
      event: 'start',
      streamSid: MZ,
      callSid: 'CA1',
      accountSid: 'AC1',
      customParameters: { token: 't' },
      encoding: 'audio/x-mulaw',
      sampleRate: 8000,
    });
    const payload = Buffer.alloc(160, 0xff).toString('base64');
    expect(
      parseInbound(
        JSON.stringify({ event: 'media', sequenceNumber: '2', streamSid: MZ, media: { track: 'inbound', chunk: '1', timestamp: '52', payload } }),
      ),
    ).toEqual({ event: 'media', streamSid: MZ, track: 'inbound', chunk: 1, timestampMs: 52, payload });
    expect(parseInbound(JSON.stringify({ event: 'dtmf', streamSid: MZ, dtmf: { track: 'inbound_track', digit: '#' } }))).toEqual({
      event: 'dtmf',
      streamSid: MZ,
      digit: '#',
    });
    expect(parseInbound(JSON.stringify({ event: 'mark', streamSid: MZ, mark: { name: '1:0' } }))).toEqual({
      event: 'mark',
      streamSid: MZ,
      name: '1:0',
    });
    expect(parseInbound(JSON.stringify({ event: 'stop', streamSid: MZ, stop: {} }))).toEqual({ event: 'stop', streamSid: MZ });
  });

  it('turns malformed and unknown input into ignored with a reason', () => {
    expect(parseInbound('{not json')).toEqual({ event: 'ignored', reason: 'not_json' });
    expect(parseInbound('[1,2]')).toEqual({ event: 'ignored', reason: 'not_object' });
    expect(parseInbound('null')).toEqual({ event: 'ignored', reason: 'not_object' });
    expect(parseInbound('{"event":"party"}')).toEqual({ event: 'ignored', reason: 'unknown_event' });
    expect(parseInbound('{"event":"media","streamSid":"MZ1"}')).toEqual({ event: 'ignored', reason: 'missing_field' });
    expect(parseInbound('{"event":"dtmf","streamSid":"MZ1","dtmf":{"digit":"xx"}}')).toEqual({ event: 'ignored', reason: 'missing_field' });
    expect(parseInbound('{"event":"start","start":{"callSid":"CA"}}')).toEqual({ event: 'ignored', reason: 'missing_field' });
    expect(parseInbound(Buffer.from([1, 2, 3]), true)).toEqual({ event: 'ignored', reason: 'binary' });
    expect(parseInbound(Buffer.from('{"event":"connected"}'))).toEqual({ event: 'connected' });
  });
});

describe('media stream serializer: outbound is exactly the three messages Twilio accepts', () => {
  it('serialises media, mark and clear with exactly the documented fields', () => {
    const out = new OutboundSerializer(MZ);
    const bytes = new Uint8Array([0xff, 0x7f, 0x00]);
    expect(JSON.parse(out.media(bytes))).toEqual({ event: 'media', streamSid: MZ, media: { payload: '/38A' } });
    expect(JSON.parse(out.mark('3:1'))).toEqual({ event: 'mark', streamSid: MZ, mark: { name: '3:1' } });
    expect(JSON.parse(out.mark('we"ird'))).toEqual({ event: 'mark', streamSid: MZ, mark: { name: 'we"ird' } });
    expect(JSON.parse(out.clear())).toEqual({ event: 'clear', streamSid: MZ });
  });

  it('encodes a subarray view without its neighbours', () => {
    const whole = Buffer.from([1, 2, 3, 4, 5, 6]);
    const out = new OutboundSerializer(MZ);
    const p = JSON.parse(out.media(whole.subarray(2, 4))).media.payload;
    expect([...decodePayload(p)]).toEqual([3, 4]);
  });
});

describe('ignored frames are counted, logged at most once a second', () => {
  it('rate-limits log lines and reports how many were folded in', () => {
    const c = new IgnoredFrameCounter();
    expect(c.count('not_json', 0)).toBe(1);
    expect(c.count('not_json', 10)).toBeUndefined();
    expect(c.count('unknown_event', 500)).toBeUndefined();
    expect(c.count('unknown_event', 1000)).toBe(3);
    expect(c.total).toBe(4);
    expect(c.byReason).toEqual({ not_json: 2, unknown_event: 2 });
  });
});
