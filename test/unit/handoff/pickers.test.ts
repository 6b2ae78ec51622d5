import { describe, expect, it } from 'vitest';
import { assignmentPicker, dialOf, numberPicker, type AssignedPerson } from '../../../src/handoff/pickers.js';

describe('who a transfer rings', () => {
  it('dials a person’s phone, else their Twilio Client identity', () => {
    expect(dialOf({ staffId: 'a', phone: '+15550107001', clientIdentity: 'ana' })).toBe('+15550107001');
    expect(dialOf({ staffId: 'a', phone: null, clientIdentity: 'ana' })).toBe('client:ana');
    expect(dialOf({ staffId: 'a', phone: null, clientIdentity: null })).toBeUndefined();
  });

  it('a queue: assignment’s choice; someone with nowhere to dial is released and skipped', async () => {
    const people: AssignedPerson[] = [
      { staffId: 'nodial', phone: null, clientIdentity: null },
      { staffId: 'bo', phone: null, clientIdentity: 'bo' },
    ];
    const asked: string[][] = [];
    const released: string[] = [];
    const picker = assignmentPicker({
      assign: async (exclude) => (asked.push([...exclude]), people.find((p) => !exclude.includes(p.staffId))),
      release: async (id) => void released.push(id),
    });
    expect(await picker.pick(['ana'])).toEqual({ staffId: 'bo', dial: 'client:bo' });
    expect(asked).toEqual([['ana'], ['ana', 'nodial']]);
    expect(released).toEqual(['nodial']);
    expect(await picker.pick(['ana', 'bo'])).toBeUndefined();
  });

  it('a number: once', async () => {
    const p = numberPicker('+15550109999');
    const first = await p.pick([]);
    expect(first).toEqual({ staffId: 'number:+15550109999', dial: '+15550109999' });
    expect(await p.pick([first!.staffId])).toBeUndefined();
  });
});
