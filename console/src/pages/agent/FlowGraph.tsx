import { useEffect, useMemo, useRef } from 'preact/hooks';
import { layoutFlow, type FlowJson, type LaidEdge } from '../../flow/graph';

const TYPE_LABEL: Record<string, string> = {
  say: 'Say',
  conversation: 'Conversation',
  gather: 'Gather',
  branch: 'Branch',
  http: 'HTTP',
  transfer: 'Transfer',
  end: 'End',
  missing: 'Missing node',
};

function path(e: LaidEdge): string {
  const [first, ...rest] = e.points;
  if (!first) return '';
  return `M${first.x},${first.y}` + rest.map((p) => `L${p.x},${p.y}`).join('');
}

/**
 * The flow drawn as a graph (laid out by dagre). Nodes are buttons: click,
 * Enter or Space selects one. Findings colour their nodes.
 */
export function FlowGraph(props: {
  flow: FlowJson;
  selected: string | null;
  focused: string | null;
  errors: Set<string>;
  warnings: Set<string>;
  onSelect: (id: string) => void;
}) {
  const lay = useMemo(() => layoutFlow(props.flow), [props.flow]);
  const box = useRef<HTMLDivElement>(null);
  const starts = new Map<string, string[]>();
  for (const e of lay.entries) starts.set(e.to, [...(starts.get(e.to) ?? []), e.label]);

  // Bring a node picked from the checklist into view.
  useEffect(() => {
    if (!props.focused || !box.current) return;
    const el = box.current.querySelector<SVGGElement>(`[data-node="${CSS.escape(props.focused)}"]`);
    el?.scrollIntoView?.({ block: 'center', inline: 'center', behavior: 'smooth' });
  }, [props.focused]);

  if (lay.nodes.length === 0) return <p class="muted graph-empty">No nodes to draw yet.</p>;
  return (
    // Focusable so keyboard users can scroll a graph larger than its box.
    <div class="graph" ref={box} tabIndex={0} role="region" aria-label="Flow graph">
      <svg width={lay.width} height={lay.height + 8} viewBox={`0 -8 ${lay.width} ${lay.height + 8}`} role="group" aria-label="Flow graph">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrow-head" />
          </marker>
        </defs>
        {lay.edges.map((e, i) => (
          <g key={`e${i}`} class={`edge edge-${e.kind}`}>
            <path d={path(e)} marker-end="url(#arrow)" />
            {e.labelAt ? (
              <text x={e.labelAt.x} y={e.labelAt.y + 4} text-anchor="middle" class="edge-label">
                {e.label}
              </text>
            ) : null}
          </g>
        ))}
        {lay.nodes.map((n) => {
          const cls = [
            'node',
            `node-${n.type}`,
            props.errors.has(n.id) ? 'has-error' : props.warnings.has(n.id) ? 'has-warning' : '',
            props.selected === n.id ? 'selected' : '',
            props.focused === n.id ? 'focused' : '',
          ].join(' ');
          const entry = starts.get(n.id);
          const problem = props.errors.has(n.id) ? ', has errors' : props.warnings.has(n.id) ? ', has warnings' : '';
          const shown = n.id.length > 22 ? `${n.id.slice(0, 21)}…` : n.id;
          return (
            <g
              key={n.id}
              data-node={n.id}
              class={cls}
              transform={`translate(${n.x},${n.y})`}
              tabIndex={n.missing ? undefined : 0}
              role={n.missing ? 'img' : 'button'}
              aria-pressed={n.missing ? undefined : props.selected === n.id}
              // The name starts with the text shown, so speech input ("click Say hello") works.
              aria-label={`${TYPE_LABEL[n.type] ?? n.type}${entry ? ` · ${entry.join(', ')}` : ''} ${shown}${problem}`}
              onClick={() => !n.missing && props.onSelect(n.id)}
              onKeyDown={(ev) => {
                if (!n.missing && (ev.key === 'Enter' || ev.key === ' ')) {
                  ev.preventDefault();
                  props.onSelect(n.id);
                }
              }}
            >
              <rect width={n.w} height={n.h} rx="8" />
              <text x="10" y="20" class="node-type">
                {TYPE_LABEL[n.type] ?? n.type}
                {entry ? ` · ${entry.join(', ')}` : ''}
                {/* Keeps the two lines apart in the text read from the node. */}
                {' '}
              </text>
              <text x="10" y="39" class="node-id">
                {shown}
              </text>
              {props.errors.has(n.id) || props.warnings.has(n.id) ? (
                <text x={n.w - 10} y="20" text-anchor="end" class="node-flag" aria-hidden="true">
                  {props.errors.has(n.id) ? '✕' : '!'}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
    </div>
  );
}
