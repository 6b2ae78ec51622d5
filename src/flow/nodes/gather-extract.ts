import type { LlmMessage } from '../../providers/llm/port.js';
import type { GatherNode } from '../schema.js';

/**
 * Turning a gather answer into a typed value. Obvious answers (a yes/no word,
 * digits in the text, an exact choice, an ISO date) take a deterministic fast
 * path; anything else is asked of the LLM with a JSON-only prompt per type.
 */
export type ValueType = GatherNode['valueType'];
export type Extracted = { ok: true; value: string | number } | { ok: false };

const NONE: Extracted = { ok: false };

const YES = new Set(['yes', 'yeah', 'yep', 'yup', 'ya', 'sure', 'correct', 'right', 'affirmative', 'ok', 'okay', 'absolutely', 'certainly', 'definitely', 'indeed', 'true']);
const NO = new Set(['no', 'nope', 'nah', 'negative', 'not', "don't", 'dont', 'never', 'incorrect', 'wrong', 'false']);

const DIGIT_WORDS: Record<string, string> = {
  zero: '0', oh: '0', o: '0', one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7', eight: '8', nine: '9',
};

function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
}

function normalise(text: string): string {
  return words(text).join(' ');
}

export function fastYesNo(text: string): 'yes' | 'no' | undefined {
  const ws = words(text);
  if (ws.length === 0) return undefined;
  const hasYes = ws.some((w) => YES.has(w));
  const hasNo = ws.some((w) => NO.has(w));
  if (YES.has(ws[0]!) && !hasNo) return 'yes';
  if (NO.has(ws[0]!) && !hasYes) return 'no';
  return undefined;
}

export function fastDigits(text: string): string | undefined {
  const ws = words(text.replace(/[-–.,]/g, ' '));
  if (ws.length > 0 && ws.every((w) => /^\d+$/.test(w) || w in DIGIT_WORDS)) {
    return ws.map((w) => DIGIT_WORDS[w] ?? w).join('');
  }
  // Exactly one run of digits in a sentence ("my PIN is 0 4 2 7").
  const runs = text.match(/\d(?:[\d\s-]*\d)?/g);
  if (runs && runs.length === 1) return runs[0]!.replace(/[\s-]/g, '');
  return undefined;
}

export function fastNumber(text: string): number | undefined {
  const runs = text.match(/-?\d[\d,]*(?:\.\d+)?/g);
  if (!runs || runs.length !== 1) return undefined;
  const rest = text.replace(runs[0]!, ' ');
  // Words like "hundred" or "point" next to the digits change the value: ask the LLM.
  if (/\b(hundred|thousand|million|point|half|and)\b/i.test(rest)) return undefined;
  const n = Number(runs[0]!.replace(/,/g, ''));
  return Number.isFinite(n) ? n : undefined;
}

function isIsoDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

function addDays(iso: string, days: number): string {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export function fastDate(text: string, today: string): string | undefined {
  const iso = text.match(/\b\d{4}-\d{2}-\d{2}\b/g);
  if (iso && iso.length === 1 && isIsoDate(iso[0]!)) return iso[0]!;
  const n = normalise(text);
  if (n === 'today') return today;
  if (n === 'tomorrow') return addDays(today, 1);
  if (n === 'yesterday') return addDays(today, -1);
  return undefined;
}

export function matchChoice(text: string, choices: readonly string[]): string | undefined {
  const n = normalise(text);
  return choices.find((c) => normalise(c) === n);
}

/** The deterministic path; `undefined` means "ask the LLM". */
export function fastExtract(type: ValueType, text: string, opts: { choices?: readonly string[]; today: string }): Extracted | undefined {
  switch (type) {
    case 'text':
      return text.trim() ? { ok: true, value: text.trim() } : NONE;
    case 'yesno': {
      const v = fastYesNo(text);
      return v ? { ok: true, value: v } : undefined;
    }
    case 'digits': {
      const v = fastDigits(text);
      return v ? { ok: true, value: v } : undefined;
    }
    case 'number': {
      const v = fastNumber(text);
      return v !== undefined ? { ok: true, value: v } : undefined;
    }
    case 'date': {
      const v = fastDate(text, opts.today);
      return v ? { ok: true, value: v } : undefined;
    }
    case 'choice': {
      const v = matchChoice(text, opts.choices ?? []);
      return v ? { ok: true, value: v } : undefined;
    }
  }
}

/** Checks (and canonicalises) a value from the LLM or a key press. */
export function validateValue(type: ValueType, value: unknown, opts: { choices?: readonly string[]; digits?: { min: number; max: number } }): Extracted {
  switch (type) {
    case 'text':
      return typeof value === 'string' && value.trim() ? { ok: true, value: value.trim() } : NONE;
    case 'yesno': {
      const v = typeof value === 'boolean' ? (value ? 'yes' : 'no') : typeof value === 'string' ? value.trim().toLowerCase() : '';
      return v === 'yes' || v === 'no' ? { ok: true, value: v } : NONE;
    }
    case 'digits': {
      const v = typeof value === 'number' && Number.isInteger(value) && value >= 0 ? String(value) : typeof value === 'string' ? value.replace(/[\s-]/g, '') : '';
      if (!/^\d+$/.test(v)) return NONE;
      if (opts.digits && (v.length < opts.digits.min || v.length > opts.digits.max)) return NONE;
      return { ok: true, value: v };
    }
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() ? Number(value.replace(/,/g, '')) : NaN;
      return Number.isFinite(n) ? { ok: true, value: n } : NONE;
    }
    case 'date':
      return typeof value === 'string' && isIsoDate(value.trim()) ? { ok: true, value: value.trim() } : NONE;
    case 'choice': {
      if (typeof value !== 'string') return NONE;
      const v = matchChoice(value, opts.choices ?? []);
      return v ? { ok: true, value: v } : NONE;
    }
  }
}

/**
 * Key presses for a gather: the digits themselves (a string, leading zeros
 * kept), except yes/no (1 = yes, 2 = no) and choices (the digits equal to a
 * choice, else the n-th choice), which menus by keypad conventionally mean.
 */
export function valueFromDigits(type: ValueType, digits: string, opts: { choices?: readonly string[] }): Extracted {
  if (!/^\d+$/.test(digits)) {
    return type === 'text' && digits ? { ok: true, value: digits } : NONE;
  }
  switch (type) {
    case 'yesno':
      return digits === '1' ? { ok: true, value: 'yes' } : digits === '2' ? { ok: true, value: 'no' } : NONE;
    case 'choice': {
      const choices = opts.choices ?? [];
      const exact = choices.find((c) => c === digits);
      if (exact) return { ok: true, value: exact };
      const n = Number(digits);
      return n >= 1 && n <= choices.length ? { ok: true, value: choices[n - 1]! } : NONE;
    }
    case 'date':
      // YYYYMMDD on a keypad.
      if (digits.length === 8) {
        const iso = `${digits.slice(0, 4)}-${digits.slice(4, 6)}-${digits.slice(6)}`;
        return isIsoDate(iso) ? { ok: true, value: iso } : NONE;
      }
      return NONE;
    default:
      return { ok: true, value: digits };
  }
}

const TYPE_RULES: Record<ValueType, (o: { choices?: readonly string[]; today: string; weekday: string }) => string> = {
  digits: () => 'a string of the digits 0-9 only (spoken numbers written as digits, keep leading zeros), e.g. {"value":"0427"}',
  number: () => 'a JSON number, e.g. {"value":42} or {"value":3.5}',
  yesno: () => '"yes" or "no"',
  date: (o) => `a date as "YYYY-MM-DD"; today is ${o.today} (${o.weekday}), resolve relative dates like "next Friday" from it`,
  text: () => 'the answer as a short string',
  choice: (o) => `exactly one of ${JSON.stringify(o.choices ?? [])}`,
};

export function extractionMessages(
  question: string,
  answer: string,
  type: ValueType,
  opts: { choices?: readonly string[]; today: string; weekday: string },
): LlmMessage[] {
  return [
    {
      role: 'system',
      content:
        'You extract one value from a caller\'s spoken answer on a phone call. Reply with JSON only: ' +
        `{"value": <value>}, where <value> is ${TYPE_RULES[type](opts)}; or {"value": null} if the answer does not give it.\n` +
        `The question was: ${JSON.stringify(question)}`,
    },
    { role: 'user', content: answer },
  ];
}

export function parseExtraction(reply: string): unknown {
  const cleaned = reply.trim().replace(/^```(?:json)?\s*/i, '').replace(/```$/, '').trim();
  try {
    const parsed: unknown = JSON.parse(cleaned);
    if (parsed && typeof parsed === 'object' && 'value' in parsed) return (parsed as { value: unknown }).value;
    return undefined;
  } catch {
    return undefined;
  }
}
