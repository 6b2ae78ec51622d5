import type { BusinessHours } from './schema.js';

/**
 * Business hours in an IANA zone, computed with Intl so daylight-saving changes
 * are right without a time-zone library. Weekly ranges are local wall times;
 * a range whose end is before its start runs past midnight into the next day.
 */
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface ZonedParts {
  /** YYYY-MM-DD in the zone. */
  date: string;
  /** HH:MM (24h) in the zone. */
  time: string;
  weekday: Weekday;
  /** Minutes since local midnight. */
  minutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/**
 * Offsets are whole minutes since the 1970s (earlier, some zones kept local mean
 * time with seconds), so from then on the parts only change when the UTC minute
 * does: flows render `now` into every prompt, and Intl's formatToParts is the
 * costly part of a render.
 */
const WHOLE_MINUTE_OFFSETS_FROM_MS = Date.UTC(1980, 0, 1);
const lastParts = new Map<string, { minute: number; parts: Readonly<ZonedParts> }>();

export function zonedParts(epochMs: number, timeZone = 'UTC'): Readonly<ZonedParts> {
  const minute = Math.floor(epochMs / 60_000);
  const cached = lastParts.get(timeZone);
  if (cached && cached.minute === minute) return cached.parts;
  const parts = formatParts(epochMs, timeZone);
  if (epochMs >= WHOLE_MINUTE_OFFSETS_FROM_MS) lastParts.set(timeZone, { minute, parts: Object.freeze(parts) });
  return parts;
}

function formatParts(epochMs: number, timeZone: string): ZonedParts {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(epochMs))) parts[p.type] = p.value;
  const hour = parts.hour === '24' ? '00' : parts.hour!;
  const weekday = parts.weekday!.toLowerCase().slice(0, 3) as Weekday;
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    time: `${hour}:${parts.minute}`,
    weekday,
    minutes: Number(hour) * 60 + Number(parts.minute),
  };
}

function toMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

export function isOpen(hours: BusinessHours, epochMs: number): boolean {
  const now = zonedParts(epochMs, hours.timezone);
  const today = WEEKDAYS.indexOf(now.weekday);
  const yesterday = WEEKDAYS[(today + 6) % 7]!;
  for (const [from, to] of hours.weekly[now.weekday] ?? []) {
    const start = toMinutes(from);
    const end = toMinutes(to);
    if (end === start) continue;
    if (end > start ? now.minutes >= start && now.minutes < end : now.minutes >= start) return true;
  }
  // Yesterday's overnight ranges reach into this morning.
  for (const [from, to] of hours.weekly[yesterday] ?? []) {
    const start = toMinutes(from);
    const end = toMinutes(to);
    if (end < start && now.minutes < end) return true;
  }
  return false;
}
