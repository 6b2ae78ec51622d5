/**
 * The per-socket message-rate limit: a burst up to `burst` passes, the rate
 * refills with time, excess is dropped, and a socket that keeps flooding is
 * told to close once `closeAfterDropped` messages were dropped.
 */
import { describe, expect, it } from 'vitest';
import { MEDIA_MESSAGE_RATE, MessageRateLimiter } from '../../src/core/message-rate.js';

describe('MessageRateLimiter', () => {
  it('passes a burst, drops the excess, refills at the rate and closes a flood', () => {
    const r = new MessageRateLimiter({ ratePerSec: 10, burst: 5, closeAfterDropped: 3 });
    for (let i = 0; i < 5; i++) expect(r.take(0)).toBe('ok');
    expect(r.take(0)).toBe('drop');
    expect(r.take(100)).toBe('ok');
    expect(r.take(100)).toBe('drop');
    expect(r.take(100)).toBe('close');
    expect(r.dropped).toBe(3);
  });

  it('a real Twilio stream (50 media frames a second, both tracks, marks, digits) is never limited', () => {
    const r = new MessageRateLimiter(MEDIA_MESSAGE_RATE);
    const verdicts = new Set<string>();
    for (let ms = 0; ms < 60_000; ms += 10) verdicts.add(r.take(ms));
    // Ten seconds of audio held up by the network, delivered at once.
    for (let i = 0; i < 500; i++) verdicts.add(r.take(60_000));
    expect([...verdicts]).toEqual(['ok']);
    expect(r.dropped).toBe(0);
  });
});
