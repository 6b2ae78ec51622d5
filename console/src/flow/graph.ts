import { Graph, layout as dagreLayout } from '@dagrejs/dagre';

/** A flow as the console sees it: loosely typed, because drafts may be incomplete. */
export type FlowJson = {
  start?: unknown;
  nodes?: unknown;
  settings?: Record<string, unknown>;
  [k: string]: unknown;
};
type NodeJson = Record<string, unknown> & { id?: unknown; type?: unknown };

export interface FlowEdge {
  from: string;
  to: string;
  label: string;
  kind: 'normal' | 'failure';
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

export function nodesOf(flow: FlowJson | null | undefined): NodeJson[] {
  return Array.isArray(flow?.nodes) ? (flow.nodes.filter((n) => n && typeof n === 'object') as NodeJson[]) : [];
}

/** Every node reference of every node (the same edges the server's validator follows). */
export function flowEdges(flow: FlowJson): FlowEdge[] {
  const out: FlowEdge[] = [];
  for (const n of nodesOf(flow)) {
    const from = str(n.id);
    if (!from) continue;
    const add = (to: unknown, label: string, kind: FlowEdge['kind'] = 'normal') => {
      const t = str(to);
      if (t) out.push({ from, to: t, label, kind });
    };
    add(n.next, '');
    add(n.onFailure, 'on failure', 'failure');
    add(n.onError, 'on error', 'failure');
    add(n.onMaxTurns, 'max turns', 'failure');
    add(n.onUnavailable, 'unavailable', 'failure');
    add(n.else, 'else');
    if (Array.isArray(n.exits)) for (const e of n.exits as Record<string, unknown>[]) add(e?.to, short(str(e?.when) ?? 'exit'));
    if (Array.isArray(n.branches)) {
      for (const b of n.branches as Record<string, unknown>[]) {
        const c = b?.if as Record<string, unknown> | undefined;
        add(b?.to, c ? short(`${String(c.var ?? '?')} ${String(c.op ?? '')} ${c.value === undefined ? '' : JSON.stringify(c.value)}`.trim()) : 'if');
      }
    }
  }
  return out;
}

function short(s: string): string {
  return s.length > 28 ? `${s.slice(0, 27)}…` : s;
}

/** Settings that point at nodes: they are entry points too. */
export function entryPoints(flow: FlowJson): { label: string; to: string }[] {
  const s = flow.settings ?? {};
  const bh = s.businessHours as Record<string, unknown> | undefined;
  const out: { label: string; to: string }[] = [];
  const add = (label: string, v: unknown) => {
    const t = str(v);
    if (t) out.push({ label, to: t });
  };
  add('start', flow.start);
  add('handoff', s.handoffNode);
  add('fallback', s.fallbackNode);
  add('closed', bh?.closedNode);
  return out;
}

export interface LaidNode {
  id: string;
  type: string;
  label: string;
  x: number;
  y: number;
  w: number;
  h: number;
  index: number;
  missing?: boolean;
}
export interface LaidEdge extends FlowEdge {
  points: { x: number; y: number }[];
  labelAt?: { x: number; y: number };
}
export interface Layout {
  nodes: LaidNode[];
  edges: LaidEdge[];
  width: number;
  height: number;
  entries: { label: string; to: string }[];
}

const NODE_W = 168;
const NODE_H = 52;

/** Lays the flow out top to bottom with dagre; references to unknown ids get a dashed "missing" node. */
export function layoutFlow(flow: FlowJson): Layout {
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: 'TB', nodesep: 28, ranksep: 48, edgesep: 12, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const nodes = nodesOf(flow);
  const seen = new Map<string, LaidNode>();
  nodes.forEach((n, index) => {
    const id = str(n.id);
    if (!id || seen.has(id)) return;
    const node: LaidNode = { id, type: String(n.type ?? '?'), label: String(n.label ?? ''), x: 0, y: 0, w: NODE_W, h: NODE_H, index };
    seen.set(id, node);
    g.setNode(id, { width: NODE_W, height: NODE_H });
  });
  const edges = flowEdges(flow);
  edges.forEach((e, i) => {
    if (!seen.has(e.from)) return;
    if (!seen.has(e.to)) {
      seen.set(e.to, { id: e.to, type: 'missing', label: '', x: 0, y: 0, w: NODE_W, h: NODE_H, index: -1, missing: true });
      g.setNode(e.to, { width: NODE_W, height: NODE_H });
    }
    g.setEdge(e.from, e.to, e.label ? { label: e.label, width: Math.min(e.label.length * 6.2, 170), height: 14, labelpos: 'c' } : {}, `e${i}`);
  });
  dagreLayout(g);
  for (const n of seen.values()) {
    const p = g.node(n.id);
    n.x = p.x - NODE_W / 2;
    n.y = p.y - NODE_H / 2;
  }
  const laid: LaidEdge[] = [];
  edges.forEach((e, i) => {
    const d = g.edge({ v: e.from, w: e.to, name: `e${i}` }) as { points?: { x: number; y: number }[]; x?: number; y?: number } | undefined;
    if (!d?.points) return;
    laid.push({ ...e, points: d.points, labelAt: e.label && d.x !== undefined && d.y !== undefined ? { x: d.x, y: d.y } : undefined });
  });
  const gl = g.graph();
  return { nodes: [...seen.values()], edges: laid, width: Math.max(gl.width ?? 0, 200), height: Math.max(gl.height ?? 0, 100), entries: entryPoints(flow) };
}

/** The node a finding is about: its nodeId, else the index in a `$.nodes[i]…` path. */
export function findingNode(flow: FlowJson | null, f: { nodeId?: string; path: string }): string | undefined {
  if (f.nodeId) return f.nodeId;
  const m = /^\$\.nodes\[(\d+)\]/.exec(f.path);
  if (!m || !flow) return undefined;
  const raw = Array.isArray(flow.nodes) ? (flow.nodes as unknown[]) : [];
  const n = raw[Number(m[1])] as NodeJson | undefined;
  return n && typeof n === 'object' ? str(n.id) : undefined;
}
