import type { CompletionContext, CompletionResult, Completion } from '@codemirror/autocomplete';
import { syntaxTree } from '@codemirror/language';
import type { EditorState } from '@codemirror/state';
import type { SyntaxNode } from '@lezer/common';

/** The parts of JSON Schema that flows/flow.schema.json uses. */
export interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  description?: string;
  required?: string[];
  additionalProperties?: boolean | Schema;
}

const NODE_REF_KEYS = new Set(['start', 'next', 'to', 'else', 'onFailure', 'onError', 'onMaxTurns', 'onUnavailable', 'fallbackNode', 'closedNode', 'handoffNode']);

const text = (state: EditorState, n: SyntaxNode) => state.doc.sliceString(n.from, n.to);

function parseString(s: string): string | undefined {
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

function propertyName(state: EditorState, prop: SyntaxNode): string | undefined {
  const n = prop.getChild('PropertyName');
  return n ? parseString(text(state, n)) : undefined;
}

/** The value of `key` in an Object node when it is a string (used for the `type` discriminator). */
function stringMember(state: EditorState, obj: SyntaxNode, key: string): string | undefined {
  for (let c = obj.firstChild; c; c = c.nextSibling) {
    if (c.name !== 'Property' || propertyName(state, c) !== key) continue;
    const v = c.lastChild;
    if (v?.name === 'String') return parseString(text(state, v));
  }
  return undefined;
}

function keysOf(state: EditorState, obj: SyntaxNode): Set<string> {
  const out = new Set<string>();
  for (let c = obj.firstChild; c; c = c.nextSibling) {
    if (c.name === 'Property') {
      const k = propertyName(state, c);
      if (k !== undefined) out.add(k);
    }
  }
  return out;
}

/** Picks the oneOf/anyOf variant whose `type` const matches the object's; with none, merges them. */
function narrow(s: Schema | undefined, state: EditorState, obj: SyntaxNode | null): Schema | undefined {
  const variants = s?.oneOf ?? s?.anyOf;
  if (!s || !variants) return s;
  const objects = variants.filter((v) => v.properties);
  const t = obj ? stringMember(state, obj, 'type') : undefined;
  const hit = t !== undefined ? objects.find((v) => v.properties?.type?.const === t) : undefined;
  if (hit) return hit;
  if (objects.length === 0) return s;
  // Unknown variant: offer the union, and `type` with every variant's value.
  const properties: Record<string, Schema> = {};
  for (const v of objects) Object.assign(properties, v.properties);
  const consts = objects.map((v) => v.properties?.type?.const).filter((c) => c !== undefined);
  if (consts.length > 0) properties.type = { type: 'string', enum: consts, description: 'node type' };
  return { type: 'object', properties };
}

/** The schema of a value node, found by walking up to the document root. */
function schemaOf(root: Schema, state: EditorState, node: SyntaxNode): Schema | undefined {
  const parent = node.parent;
  if (!parent || parent.name === 'JsonText') return root;
  if (parent.name === 'Property') {
    const obj = parent.parent;
    if (!obj) return undefined;
    const key = propertyName(state, parent);
    const s = narrow(schemaOf(root, state, obj), state, obj);
    return key === undefined ? undefined : s?.properties?.[key];
  }
  if (parent.name === 'Array') return narrow(schemaOf(root, state, parent), state, null)?.items;
  return undefined;
}

function nodeIds(state: EditorState): string[] {
  try {
    const flow = JSON.parse(state.doc.toString()) as { nodes?: { id?: unknown }[] };
    return (flow.nodes ?? []).map((n) => n?.id).filter((id): id is string => typeof id === 'string');
  } catch {
    // Mid-edit JSON: find ids by pattern instead.
    return [...state.doc.toString().matchAll(/"id"\s*:\s*"([^"]+)"/g)].map((m) => m[1]!);
  }
}

function valueOptions(s: Schema | undefined, key: string | undefined, state: EditorState): Completion[] {
  const out: Completion[] = [];
  const add = (v: unknown, detail?: string) => {
    const label = JSON.stringify(v);
    if (!out.some((o) => o.label === label)) out.push({ label, type: 'constant', detail });
  };
  const visit = (x: Schema | undefined) => {
    if (!x) return;
    if (x.const !== undefined) add(x.const);
    x.enum?.forEach((v) => add(v));
    const types = Array.isArray(x.type) ? x.type : [x.type];
    if (types.includes('boolean')) {
      add(true);
      add(false);
    }
    (x.oneOf ?? x.anyOf)?.forEach(visit);
  };
  visit(s);
  if (key && (NODE_REF_KEYS.has(key) || /id of another node/i.test(s?.description ?? ''))) {
    for (const id of nodeIds(state)) add(id, 'node');
  }
  return out;
}

/** Completion from the flow's JSON Schema: property names (with descriptions) and values. */
export function schemaCompletion(root: Schema) {
  return (ctx: CompletionContext): CompletionResult | null => {
    const { state, pos } = ctx;
    let node: SyntaxNode | null = syntaxTree(state).resolveInner(pos, -1);

    // Inside a key: "na|"
    if (node.name === 'PropertyName') {
      const prop = node.parent;
      const obj = prop?.parent;
      if (!obj) return null;
      const s = narrow(schemaOf(root, state, obj), state, obj);
      const have = keysOf(state, obj);
      const current = propertyName(state, prop!);
      return {
        from: node.from,
        to: node.to,
        options: Object.entries(s?.properties ?? {})
          .filter(([k]) => k === current || !have.has(k))
          .map(([k, v]) => ({ label: JSON.stringify(k), type: 'property', detail: s?.required?.includes(k) ? 'required' : undefined, info: v.description })),
        validFor: /^"?[\w$-]*"?$/,
      };
    }

    // Inside a string value: "next": "we|"
    if (node.name === 'String' && node.parent?.name === 'Property') {
      const key = propertyName(state, node.parent);
      const opts = valueOptions(schemaOf(root, state, node), key, state);
      return opts.length ? { from: node.from, to: node.to, options: opts, validFor: /^"?[^"]*"?$/ } : null;
    }

    // Between tokens: decide by the last significant character before the cursor.
    const before = ctx.matchBefore(/[\w"$-]*$/);
    const from = before ? before.from : pos;
    const prevChar = state.doc.sliceString(Math.max(0, from - 200), from).replace(/\s+$/, '').slice(-1);
    if (!ctx.explicit && !before?.text) return null;
    while (node && node.name !== 'Object' && node.name !== 'Property' && node.name !== 'Array') node = node.parent;
    if (!node) return null;

    if (prevChar === ':' && node.name === 'Property') {
      const key = propertyName(state, node);
      const obj = node.parent;
      if (!obj || key === undefined) return null;
      const s = narrow(schemaOf(root, state, obj), state, obj)?.properties?.[key];
      const opts = valueOptions(s, key, state);
      return opts.length ? { from, options: opts } : null;
    }
    const obj = node.name === 'Property' ? node.parent : node;
    if (obj?.name === 'Object' && (prevChar === '{' || prevChar === ',')) {
      const s = narrow(schemaOf(root, state, obj), state, obj);
      const have = keysOf(state, obj);
      return {
        from,
        options: Object.entries(s?.properties ?? {})
          .filter(([k]) => !have.has(k))
          .map(([k, v]) => ({ label: JSON.stringify(k), apply: `${JSON.stringify(k)}: `, type: 'property', detail: s?.required?.includes(k) ? 'required' : undefined, info: v.description })),
      };
    }
    return null;
  };
}

/** The syntax node at a validator path such as `$.nodes[3].next` (or the deepest part of it that exists). */
export function nodeAtPath(state: EditorState, path: string): SyntaxNode | null {
  const segs = [...path.replace(/^\$/, '').matchAll(/\.([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
  let cur: SyntaxNode | null = syntaxTree(state).topNode.firstChild;
  for (const seg of segs) {
    if (!cur) return null;
    let next: SyntaxNode | null = null;
    if (typeof seg === 'number' && cur.name === 'Array') {
      let i = 0;
      for (let c = cur.firstChild; c; c = c.nextSibling) {
        if (c.name === '[' || c.name === ']' || c.name === ',' || c.type.isError) continue;
        if (i++ === seg) {
          next = c;
          break;
        }
      }
    } else if (typeof seg === 'string' && cur.name === 'Object') {
      for (let c = cur.firstChild; c; c = c.nextSibling) {
        if (c.name === 'Property' && propertyName(state, c) === seg) {
          next = c.lastChild;
          break;
        }
      }
    }
    if (!next) return cur;
    cur = next;
  }
  return cur;
}
