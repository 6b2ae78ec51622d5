import { describe, expect, it } from 'vitest';
import { maskE164, maskNumbersInText } from '../../../src/core/phone-mask.js';
import { forViewer, maskNumbersDeep, seesRealNumbers } from '../../../src/handoff/masking.js';

describe('maskE164', () => {
  it.each([
    ['+15550100100', '+1****0100'],
    ['+14155550123', '+1****0123'],
    ['+447700900123', '+44****0123'],
    ['+4930123456', '+49****3456'],
    ['+33123456789', '+33****6789'],
    ['+353861234567', '+353****4567'],
    ['+8613912345678', '+86****5678'],
    ['+9991234567', '+****4567'], // no such country code: only the last four stay
  ])('%s → %s', (input, expected) => expect(maskE164(input)).toBe(expected));

  it('masks numbers inside text and leaves other digits alone', () => {
    expect(maskNumbersInText('call +447700900123 or +15550100100, ref 12345')).toBe('call +44****0123 or +1****0100, ref 12345');
  });
});

describe('who sees real numbers', () => {
  it('a person with showRealPhoneNumbers; an API key only with the admin role', () => {
    expect(seesRealNumbers({ kind: 'session', role: 'support', showRealPhoneNumbers: true })).toBe(true);
    expect(seesRealNumbers({ kind: 'session', role: 'admin', showRealPhoneNumbers: false })).toBe(false);
    expect(seesRealNumbers({ kind: 'session', role: 'admin' })).toBe(false);
    expect(seesRealNumbers({ kind: 'api-key', role: 'admin' })).toBe(true);
    expect(seesRealNumbers({ kind: 'api-key', role: 'builder' })).toBe(false);
    expect(seesRealNumbers({ kind: 'api-key', role: 'support', showRealPhoneNumbers: true })).toBe(false);
  });

  it('masks at any depth for viewers who may not see numbers, and returns the same view otherwise', () => {
    const view = { from: '+15550001111', events: [{ target: { number: '+447700900123' } }], text: 'on +15550107777', n: 3, none: null };
    expect(maskNumbersDeep(view)).toEqual({ from: '+1****1111', events: [{ target: { number: '+44****0123' } }], text: 'on +1****7777', n: 3, none: null });
    expect(forViewer(view, { kind: 'api-key', role: 'admin' })).toBe(view);
    expect(forViewer(view, { kind: 'session', role: 'support' })).toEqual(maskNumbersDeep(view));
  });
});
