import type { Scalar } from './schema.js';

/**
 * `{{variable}}` templates. Names may be dotted (`{{args.date}}`, `{{caller.number}}`).
 * A missing variable renders as an empty string; templates never throw.
 */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}/g;

export type Variables = Record<string, unknown>;

export function templateVariables(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(PLACEHOLDER)) names.push(m[1]!);
  return names;
}

export function hasPlaceholders(text: string): boolean {
  PLACEHOLDER.lastIndex = 0;
  const found = PLACEHOLDER.test(text);
  PLACEHOLDER.lastIndex = 0;
  return found;
}

/**
 * Reads only own properties: `{{constructor}}`, `{{toString}}` or `{{__proto__}}`
 * are not variables of the call, so they render empty like any missing one.
 */
export function lookup(vars: Variables, path: string): unknown {
  let cur: unknown = vars;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export function stringify(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

export function render(text: string, vars: Variables): string {
  return text.replace(PLACEHOLDER, (_m, name: string) => stringify(lookup(vars, name)));
}

/** Renders every string inside a JSON value (http bodies). */
export function renderDeep(value: unknown, vars: Variables): unknown {
  if (typeof value === 'string') return render(value, vars);
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, vars));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = renderDeep(v, vars);
    return out;
  }
  return value;
}

export type { Scalar };
