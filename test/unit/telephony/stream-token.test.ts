import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { MemoryUsedTokenStore, STREAM_TOKEN_TTL_MS, StreamTokens } from '../../../src/telephony/stream-token.js';

const KEY = 'k'.repeat(32);
const CA = 'CA' + 'a'.repeat(32);
const AC = 'AC' + 'b'.repeat(32);

describe('stream tokens: HMAC-signed, single-use, 60 s, bound to the call', () => {
  it('accepts a fresh token for its own call once', () => {
    const tokens = new StreamTokens(KEY, new ManualClock());
    const t = tokens.issue(CA, AC);
    const first = tokens.verify(t, CA, AC);
    expect(first.ok).toBe(true);
    expect(tokens.verify(t, CA, AC)).toEqual({ ok: false, reason: 'reused' });
  });

  it('refuses missing, malformed and forged tokens', () => {
    const tokens = new StreamTokens(KEY, new ManualClock());
    expect(tokens.verify(undefined, CA, AC)).toEqual({ ok: false, reason: 'missing' });
    expect(tokens.verify('', CA, AC)).toEqual({ ok: false, reason: 'missing' });
    expect(tokens.verify('garbage', CA, AC)).toEqual({ ok: false, reason: 'malformed' });
    const other = new StreamTokens('x'.repeat(32), new ManualClock()).issue(CA, AC);
    expect(tokens.verify(other, CA, AC)).toEqual({ ok: false, reason: 'bad_signature' });
    // Tampered claims under the original signature.
    const [, sig] = tokens.issue(CA, AC).split('.');
    const forgedBody = Buffer.from(JSON.stringify({ jti: 'x', callSid: CA, accountSid: AC, exp: 9e15 })).toString('base64url');
    expect(tokens.verify(`${forgedBody}.${sig}`, CA, AC)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('expires after 60 s', async () => {
    const clock = new ManualClock();
    const tokens = new StreamTokens(KEY, clock);
    const t = tokens.issue(CA, AC);
    await clock.advance(STREAM_TOKEN_TTL_MS);
    expect(tokens.verify(t, CA, AC)).toEqual({ ok: false, reason: 'expired' });
  });

  it('is bound to the CallSid and AccountSid it was issued for', () => {
    const tokens = new StreamTokens(KEY, new ManualClock());
    const t = tokens.issue(CA, AC);
    expect(tokens.verify(t, 'CA' + 'c'.repeat(32), AC)).toEqual({ ok: false, reason: 'wrong_call' });
    expect(tokens.verify(t, CA, 'AC' + 'd'.repeat(32))).toEqual({ ok: false, reason: 'wrong_call' });
  });

  it('forgets used ids once they have expired', () => {
    const store = new MemoryUsedTokenStore();
    expect(store.markUsed('a', 100, 0)).toBe(true);
    expect(store.markUsed('a', 100, 50)).toBe(false);
    expect(store.markUsed('b', 300, 150)).toBe(true);
    expect(store.size).toBe(1);
  });

  it('refuses a short key', () => {
    expect(() => new StreamTokens('short', new ManualClock())).toThrow(/16 bytes/);
  });
});
