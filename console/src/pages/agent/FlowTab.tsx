import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Finding, Validation } from '../../api';
import { buildChecklist, type Check } from '../../flow/checklist';
import type { FlowEditor } from '../../flow/editor';
import { findingNode, nodesOf, type FlowJson } from '../../flow/graph';
import { FlowGraph } from './FlowGraph';
import { parseFlow } from './draft';

type Level = Finding & { level: 'error' | 'warning' };

const STATUS_TEXT = { pass: 'Pass', warn: 'Warning', error: 'Error' } as const;
const STATUS_ICON = { pass: '✓', warn: '!', error: '✕' } as const;

export function FlowTab(props: {
  text: string;
  /** Counts loads of the text from the server; typing does not change it. */
  loads: number;
  readOnly: boolean;
  validation: Validation | null;
  numbers: string[];
  onEdit: (text: string) => void;
  onSave: () => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<FlowEditor | null>(null);
  const [editorError, setEditorError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [focused, setFocused] = useState<string | null>(null);
  const lastGood = useRef<FlowJson | null>(null);
  const props$ = useRef(props);
  props$.current = props;

  // The graph follows the text as long as it parses; mid-edit syntax errors keep the last good drawing.
  const flow = useMemo(() => {
    const p = parseFlow(props.text);
    if ('flow' in p) lastGood.current = p.flow;
    return lastGood.current;
  }, [props.text]);

  // CodeMirror is loaded on demand: the agents list and sign-in never pay for it.
  useEffect(() => {
    let cancelled = false;
    import('../../flow/editor')
      .then(({ createFlowEditor }) => {
        if (cancelled || !host.current) return;
        editor.current = createFlowEditor(host.current, {
          text: props$.current.text,
          readOnly: props$.current.readOnly,
          label: 'Flow JSON',
          onChange: (t) => props$.current.onEdit(t),
          onSave: () => props$.current.onSave(),
        });
      })
      .catch((e: Error) => setEditorError(`The editor could not load: ${e.message}`));
    return () => {
      cancelled = true;
      editor.current?.destroy();
      editor.current = null;
    };
  }, []);

  // Only a text loaded from the server replaces the editor's: what the editor reports back
  // through onEdit is already in it, and an older render must never overwrite newer typing.
  useEffect(() => {
    const ed = editor.current;
    if (ed && ed.getText() !== props$.current.text) ed.setText(props$.current.text);
  }, [props.loads]);
  useEffect(() => editor.current?.setReadOnly(props.readOnly), [props.readOnly]);

  const findings: Level[] = useMemo(
    () => (props.validation ? [...props.validation.errors.map((f) => ({ ...f, level: 'error' as const })), ...props.validation.warnings.map((f) => ({ ...f, level: 'warning' as const }))] : []),
    [props.validation],
  );
  useEffect(() => editor.current?.showFindings(findings), [findings]);

  const errorNodes = new Set<string>();
  const warnNodes = new Set<string>();
  for (const f of findings) {
    const id = findingNode(flow, f);
    if (id) (f.level === 'error' ? errorNodes : warnNodes).add(id);
  }
  const checks = props.validation ? buildChecklist(flow, props.validation, props.numbers) : null;

  const showFinding = (f: Level) => {
    const id = findingNode(flow, f);
    if (id) {
      setSelected(id);
      setFocused(id);
    }
    editor.current?.reveal(f.path);
  };

  const selectNode = (id: string) => {
    setSelected(id);
    setFocused(null);
  };

  const node = selected ? nodesOf(flow).find((n) => n.id === selected) : undefined;
  const nodeIndex = selected && Array.isArray(flow?.nodes) ? (flow.nodes as { id?: unknown }[]).findIndex((n) => n?.id === selected) : -1;

  return (
    <div class="flow-tab">
      <section class="panel graph-panel" aria-labelledby="graph-h">
        <h2 id="graph-h">Graph</h2>
        {flow ? (
          <FlowGraph flow={flow} selected={selected} focused={focused} errors={errorNodes} warnings={warnNodes} onSelect={selectNode} />
        ) : (
          <p class="muted">The JSON does not parse yet.</p>
        )}
        {node ? (
          <div class="node-settings" aria-live="polite">
            <div class="node-settings-head">
              <h3>
                Node <code>{String(node.id)}</code> <span class="muted">({String(node.type)})</span>
              </h3>
              <button type="button" class="btn btn-plain" onClick={() => editor.current?.reveal(`$.nodes[${nodeIndex}]`)}>
                Show in editor
              </button>
              <button type="button" class="btn btn-plain" aria-label="Close node settings" onClick={() => setSelected(null)}>
                Close
              </button>
            </div>
            <dl class="settings-list">
              {Object.entries(node)
                .filter(([k]) => k !== 'id')
                .map(([k, v]) => (
                  <div key={k}>
                    <dt>{k}</dt>
                    <dd>{typeof v === 'string' ? v : <code>{JSON.stringify(v)}</code>}</dd>
                  </div>
                ))}
            </dl>
            {findings.filter((f) => findingNode(flow, f) === selected).map((f, i) => (
              <p key={i} class={f.level === 'error' ? 'error-text' : 'warn-text'}>
                {f.level === 'error' ? 'Error' : 'Warning'}: {f.message}
              </p>
            ))}
          </div>
        ) : null}
      </section>
      <section class="panel editor-panel" aria-labelledby="editor-h">
        <h2 id="editor-h">Flow JSON</h2>
        <p class="muted small">
          Ctrl+Space completes from the flow schema; Ctrl+S (⌘S) saves; changes save by themselves after 2 seconds. Tab leaves the editor.
        </p>
        {editorError ? <p class="error-text">{editorError}</p> : null}
        <div class="editor-host" ref={host} />
      </section>
      <section class="panel checklist-panel" aria-labelledby="checklist-h">
        <h2 id="checklist-h">Pre-launch checklist</h2>
        {checks ? <Checklist checks={checks} onFinding={showFinding} flow={flow} /> : <p class="muted">Checking…</p>}
      </section>
    </div>
  );
}

function Checklist({ checks, onFinding, flow }: { checks: Check[]; onFinding: (f: Level) => void; flow: FlowJson | null }) {
  return (
    <ul class="checklist">
      {checks.map((c) => (
        <li key={c.id} class={`check check-${c.status}`} data-check={c.id}>
          <span class="check-status">
            <span aria-hidden="true">{STATUS_ICON[c.status]}</span> {STATUS_TEXT[c.status]}
          </span>
          <span class="check-title">{c.title}</span>
          <span class="check-summary muted">{c.summary}</span>
          {c.findings.length > 0 ? (
            <ul class="findings">
              {c.findings.map((f, i) => {
                const id = findingNode(flow, f);
                return (
                  <li key={i}>
                    <button type="button" class={`finding finding-${f.level}`} onClick={() => onFinding(f)} data-code={f.code}>
                      {id ? <code>{id}</code> : null} {f.message}
                    </button>
                  </li>
                );
              })}
            </ul>
          ) : null}
        </li>
      ))}
    </ul>
  );
}
