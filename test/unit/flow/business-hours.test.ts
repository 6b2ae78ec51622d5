import { describe, expect, it } from 'vitest';
import { isOpen, isValidTimeZone, zonedParts } from '../../../src/flow/business-hours.js';
import type { BusinessHours } from '../../../src/flow/schema.js';

const at = (iso: string) => Date.parse(iso);

describe('business hours', () => {
  it('reads local date, time and weekday in a zone', () => {
    expect(zonedParts(at('2026-01-05T15:00:00Z'), 'America/New_York')).toEqual({ date: '2026-01-05', time: '10:00', weekday: 'mon', minutes: 600 });
    expect(zonedParts(at('2026-01-05T23:30:00Z'), 'Asia/Tokyo')).toEqual({ date: '2026-01-06', time: '08:30', weekday: 'tue', minutes: 510 });
    expect(zonedParts(at('2026-01-05T00:00:00Z'))).toMatchObject({ time: '00:00', weekday: 'mon' });
  });

  it('answers from the last minute read until the UTC minute changes, per zone', () => {
    const t = at('2026-01-05T15:00:00Z');
    expect(zonedParts(t, 'America/New_York').time).toBe('10:00');
    expect(zonedParts(t + 59_999, 'America/New_York').time).toBe('10:00');
    expect(zonedParts(t, 'Asia/Tokyo').time).toBe('00:00');
    // The next minute, in both zones, read alternately.
    expect(zonedParts(t + 60_000, 'America/New_York')).toEqual({ date: '2026-01-05', time: '10:01', weekday: 'mon', minutes: 601 });
    expect(zonedParts(t + 60_000, 'Asia/Tokyo')).toEqual({ date: '2026-01-06', time: '00:01', weekday: 'tue', minutes: 1 });
    // Going back in time is a different minute too.
    expect(zonedParts(t - 1, 'America/New_York').time).toBe('09:59');
  });

  it('reads old offsets with seconds exactly (no minute cache before 1980)', () => {
    // Monrovia ran at -0:44:30 until 1972: local midnight falls 30 s into a UTC minute.
    const before = zonedParts(Date.UTC(1960, 0, 1, 0, 44, 29), 'Africa/Monrovia');
    const after = zonedParts(Date.UTC(1960, 0, 1, 0, 44, 31), 'Africa/Monrovia');
    expect(before).toMatchObject({ date: '1959-12-31', time: '23:59' });
    expect(after).toMatchObject({ date: '1960-01-01', time: '00:00' });
  });

  it('is DST-correct in America/New_York across 2026-03-08', () => {
    const hours: BusinessHours = { timezone: 'America/New_York', weekly: { sun: [['10:00', '12:00']] } };
    // 14:30 UTC is 09:30 EST the Sunday before, but 10:30 EDT on the change day.
    expect(isOpen(hours, at('2026-03-01T14:30:00Z'))).toBe(false);
    expect(isOpen(hours, at('2026-03-08T14:30:00Z'))).toBe(true);
    // 02:30 local does not exist on 2026-03-08: 06:59 UTC is 01:59 EST, 07:00 UTC is 03:00 EDT.
    expect(zonedParts(at('2026-03-08T06:59:00Z'), 'America/New_York').time).toBe('01:59');
    expect(zonedParts(at('2026-03-08T07:00:00Z'), 'America/New_York').time).toBe('03:00');
  });

  it('is DST-correct in Europe/London across 2026-03-29', () => {
    const hours: BusinessHours = { timezone: 'Europe/London', weekly: { mon: [['09:00', '17:00']] } };
    expect(isOpen(hours, at('2026-03-23T08:30:00Z'))).toBe(false); // 08:30 GMT
    expect(isOpen(hours, at('2026-03-30T08:30:00Z'))).toBe(true); // 09:30 BST
    expect(isOpen(hours, at('2026-03-30T16:00:00Z'))).toBe(false); // 17:00 BST: end is exclusive
  });

  it('the same instant is open in one zone and closed in another', () => {
    const instant = at('2026-01-07T16:00:00Z'); // Wed: 16:00 London, 11:00 New York, 01:00 Thu Tokyo
    const weekday = { wed: [['09:00', '12:00']] as [string, string][] };
    expect(isOpen({ timezone: 'Europe/London', weekly: weekday }, instant)).toBe(false);
    expect(isOpen({ timezone: 'America/New_York', weekly: weekday }, instant)).toBe(true);
    expect(isOpen({ timezone: 'Asia/Tokyo', weekly: weekday }, instant)).toBe(false);
  });

  it('handles several ranges a day, whole days, closed days and overnight ranges', () => {
    const hours: BusinessHours = {
      timezone: 'UTC',
      weekly: { mon: [['09:00', '12:00'], ['13:00', '17:00']], tue: [['00:00', '24:00']], fri: [['22:00', '02:00']] },
    };
    expect(isOpen(hours, at('2026-01-05T12:30:00Z'))).toBe(false); // lunch
    expect(isOpen(hours, at('2026-01-05T13:00:00Z'))).toBe(true);
    expect(isOpen(hours, at('2026-01-06T23:59:00Z'))).toBe(true);
    expect(isOpen(hours, at('2026-01-07T10:00:00Z'))).toBe(false); // Wednesday: no ranges
    expect(isOpen(hours, at('2026-01-09T23:00:00Z'))).toBe(true); // Fri 23:00
    expect(isOpen(hours, at('2026-01-10T01:30:00Z'))).toBe(true); // Sat 01:30, from Friday's range
    expect(isOpen(hours, at('2026-01-10T02:00:00Z'))).toBe(false);
  });

  it('checks zone names', () => {
    expect(isValidTimeZone('Europe/London')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
  });
});
