import { isDeepStrictEqual } from 'node:util';
import type { Flow, FlowNode } from '../flow/schema.js';

/**
 * What changed between two versions of a flow, for builders deciding whether
 * to switch or roll back: nodes added, removed and changed (field by field),
 * settings changed, and the top-level fields (name, start). Both flows are
 * compared after parsing, so a default written out and a default left implicit
 * are the same.
 */
export interface FieldChange {
  /** Dotted path inside the node or settings, with [i] for array items: `exits[1].to`. */
  path: string;
  /** Absent: the field was added. */
  from?: unknown;
  /** Absent: the field was removed. */
  to?: unknown;
}

export interface FlowDiff {
  nodes: {
    added: { id: string; type: string }[];
    removed: { id: string; type: string }[];
    changed: { id: string; type: string; fields: FieldChange[] }[];
  };
  settings: FieldChange[];
  /** name, description, start. */
  flow: FieldChange[];
  /** Nothing differs. */
  same: boolean;
}

/** Long values (a knowledge-base document, a prompt) are cut so a diff stays readable. */
export const MAX_DIFF_VALUE_CHARS = 500;

function shown(v: unknown): unknown {
  if (typeof v === 'string' && v.length > MAX_DIFF_VALUE_CHARS) return `${v.slice(0, MAX_DIFF_VALUE_CHARS)}…`;
  if (v !== null && typeof v === 'object' && JSON.stringify(v).length > MAX_DIFF_VALUE_CHARS) {
    return `${JSON.stringify(v).slice(0, MAX_DIFF_VALUE_CHARS)}…`;
  }
  return v;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

const join = (base: string, key: string | number) => (typeof key === 'number' ? `${base}[${key}]` : base ? `${base}.${key}` : key);

/** Leaf-level differences of two JSON values. */
export function diffValues(from: unknown, to: unknown, path = '', out: FieldChange[] = []): FieldChange[] {
  if (isDeepStrictEqual(from, to)) return out;
  if (isPlainObject(from) && isPlainObject(to)) {
    const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort();
    for (const k of keys) {
      if (!(k in to)) out.push({ path: join(path, k), from: shown(from[k]) });
      else if (!(k in from)) out.push({ path: join(path, k), to: shown(to[k]) });
      else diffValues(from[k], to[k], join(path, k), out);
    }
    return out;
  }
  if (Array.isArray(from) && Array.isArray(to)) {
    const n = Math.max(from.length, to.length);
    for (let i = 0; i < n; i++) {
      if (i >= to.length) out.push({ path: join(path, i), from: shown(from[i]) });
      else if (i >= from.length) out.push({ path: join(path, i), to: shown(to[i]) });
      else diffValues(from[i], to[i], join(path, i), out);
    }
    return out;
  }
  out.push({ path: path || '(value)', from: shown(from), to: shown(to) });
  return out;
}

export function diffFlows(a: Flow, b: Flow): FlowDiff {
  const before = new Map<string, FlowNode>(a.nodes.map((n) => [n.id, n]));
  const after = new Map<string, FlowNode>(b.nodes.map((n) => [n.id, n]));
  const nodes: FlowDiff['nodes'] = { added: [], removed: [], changed: [] };
  for (const n of b.nodes) if (!before.has(n.id)) nodes.added.push({ id: n.id, type: n.type });
  for (const n of a.nodes) {
    const other = after.get(n.id);
    if (!other) {
      nodes.removed.push({ id: n.id, type: n.type });
      continue;
    }
    const fields = diffValues(n, other);
    if (fields.length > 0) nodes.changed.push({ id: n.id, type: other.type, fields });
  }
  const settings = diffValues(a.settings, b.settings);
  const top = (f: Flow) => ({ name: f.name, start: f.start, ...(f.description !== undefined ? { description: f.description } : {}) });
  const flow = diffValues(top(a), top(b));
  const same = nodes.added.length + nodes.removed.length + nodes.changed.length + settings.length + flow.length === 0;
  return { nodes, settings, flow, same };
}

/** Whether a node is the same in both flows (the replay reuses recorded model replies only there). */
export function sameNode(a: FlowNode | undefined, b: FlowNode | undefined): boolean {
  return a !== undefined && b !== undefined && isDeepStrictEqual(a, b);
}
