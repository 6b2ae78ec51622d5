import { useEffect, useState } from 'preact/hooks';
import { all, api, ApiError, enc, type Agent, type Version, type VersionSummary } from '../../api';
import { Button, Dialog, ErrorText, Field, Loading, say, useSubmit, when } from '../../components/ui';
import { diffLines, withContext } from '../../flow/diff';
import { pretty } from './draft';

type Serve = { version: number; action: 'rollback' | 'activate'; label: string };

/** What serving version v means for the agent now (docs/architecture.md#agent-lifecycle: rollback in either state, switch while active). */
function serveAction(agent: Agent, v: number): Serve | null {
  if (v === agent.servedVersion) return null;
  if (agent.state === 'draft') return { version: v, action: 'activate', label: 'Activate this version' };
  if (agent.state === 'active' && agent.servedVersion !== null && v > agent.servedVersion) return { version: v, action: 'activate', label: 'Switch to this version' };
  return { version: v, action: 'rollback', label: 'Restore' };
}

export function VersionsTab(props: { agent: Agent; editor: boolean; onAgent: (a: Agent) => void; onCopyToDraft: (text: string) => void }) {
  const { agent } = props;
  const [versions, setVersions] = useState<VersionSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [serve, setServe] = useState<Serve | null>(null);
  const [a, setA] = useState<number | null>(null);
  const [b, setB] = useState<number | null>(null);

  useEffect(() => {
    all<VersionSummary>(`/agents/${enc(agent.id)}/versions`)
      .then((vs) => {
        setVersions(vs);
        if (vs.length >= 2) {
          setA(vs[1]!.version);
          setB(vs[0]!.version);
        }
      })
      .catch((e: Error) => setError(e.message));
  }, [agent.id]);

  if (error) return <ErrorText error={error} />;
  if (!versions) return <Loading what="versions" />;
  if (versions.length === 0) return <p class="muted">Nothing published yet. Publish the draft to make version 1.</p>;
  return (
    <section aria-labelledby="versions-h">
      <h2 id="versions-h" class="visually-hidden">
        Versions
      </h2>
      <div class="table-wrap">
        <table class="table">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Published</th>
              <th scope="col">By</th>
              <th scope="col">Note</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => {
              const act = props.editor ? serveAction(agent, v.version) : null;
              return (
                <tr key={v.version} data-version={v.version}>
                  <td>
                    v{v.version} {v.version === agent.servedVersion ? <span class={`badge badge-${agent.state}`}>{agent.state === 'active' ? 'Serving' : 'Served when active'}</span> : null}
                  </td>
                  <td>{when(v.createdAt)}</td>
                  <td>{v.author}</td>
                  <td>{v.note ?? <span class="muted">—</span>}</td>
                  <td>
                    <div class="row-actions">
                    {act ? (
                      <Button onClick={() => setServe(act)} aria-label={`${act.label}: version ${v.version}`}>
                        {act.label}
                      </Button>
                    ) : null}
                    {props.editor ? (
                      <Button
                        aria-label={`Copy to draft: version ${v.version}`}
                        onClick={async () => {
                          const full = await api<Version>('GET', `/agents/${enc(agent.id)}/versions/${v.version}`);
                          props.onCopyToDraft(pretty(full.flow));
                          say(`Version ${v.version} copied into the draft (saving in 2 seconds). Open the Flow tab to see it.`);
                        }}
                      >
                        Copy to draft
                      </Button>
                    ) : null}
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {versions.length >= 2 ? (
        <Compare agentId={agent.id} versions={versions} a={a} b={b} setA={setA} setB={setB} />
      ) : null}
      {serve ? (
        <ServeDialog
          agent={agent}
          serve={serve}
          onClose={() => setServe(null)}
          onDone={(x) => {
            setServe(null);
            props.onAgent(x);
          }}
        />
      ) : null}
    </section>
  );
}

function ServeDialog({ agent, serve, onClose, onDone }: { agent: Agent; serve: Serve; onClose: () => void; onDone: (a: Agent) => void }) {
  const [reason, setReason] = useState('');
  const { error, busy, submit } = useSubmit(
    async () => {
      const body = { version: serve.version, ...(reason.trim() ? { reason: reason.trim() } : {}) };
      const x = await api<Agent>('POST', `/agents/${enc(agent.id)}/${serve.action}`, body);
      say(`${agent.name} now serves version ${x.servedVersion}${x.state === 'active' ? '' : ' when active'}.`);
      onDone(x);
    },
    (err) => (err instanceof ApiError && err.code === 'INVALID_FLOW' ? `Version ${serve.version} does not pass validation, so it cannot be served.` : undefined),
  );
  return (
    <Dialog title={`${serve.label}: version ${serve.version}`} onClose={onClose}>
      <form onSubmit={submit}>
        <p>
          {agent.state === 'active'
            ? `New calls are answered by version ${serve.version} from now on. Calls in progress finish on the version they started with.`
            : agent.state === 'inactive'
              ? `The agent stays inactive; version ${serve.version} answers once it is activated.`
              : `The agent goes live serving version ${serve.version}.`}{' '}
          The draft is not changed.
        </p>
        <Field label="Reason (optional)" hint="Kept in the audit log.">
          <textarea name="reason" rows={2} maxLength={1000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </Field>
        <ErrorText error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button kind="primary" type="submit" disabled={busy}>
            {serve.label}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function Compare(props: { agentId: string; versions: VersionSummary[]; a: number | null; b: number | null; setA: (n: number) => void; setB: (n: number) => void }) {
  const [texts, setTexts] = useState<{ a: string; b: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (props.a === null || props.b === null) return;
    setTexts(null);
    const get = (n: number) => api<Version>('GET', `/agents/${enc(props.agentId)}/versions/${n}`).then((v) => pretty(v.flow));
    Promise.all([get(props.a), get(props.b)])
      .then(([a, b]) => setTexts({ a, b }))
      .catch((e: Error) => setError(e.message));
  }, [props.agentId, props.a, props.b]);
  const lines = texts ? withContext(diffLines(texts.a, texts.b)) : null;
  const changed = lines?.filter((l) => l && l.kind !== 'same').length ?? 0;
  return (
    <section class="panel compare" aria-labelledby="compare-h">
      <h2 id="compare-h">Compare versions</h2>
      <div class="compare-pick">
        <Field label="Compare from">
          <select value={String(props.a)} onChange={(e) => props.setA(Number(e.currentTarget.value))}>
            {props.versions.map((v) => (
              <option key={v.version} value={v.version}>
                v{v.version}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Compare to">
          <select value={String(props.b)} onChange={(e) => props.setB(Number(e.currentTarget.value))}>
            {props.versions.map((v) => (
              <option key={v.version} value={v.version}>
                v{v.version}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <ErrorText error={error} />
      {!lines ? <Loading what="the diff" /> : null}
      {lines && changed === 0 ? <p class="muted">These versions have the same flow.</p> : null}
      {lines && changed > 0 ? (
        <pre class="diff" aria-label={`${changed} changed lines`}>
          {lines.map((l, i) =>
            l === null ? (
              <div key={i} class="diff-gap">
                ⋯
              </div>
            ) : (
              <div key={i} class={`diff-${l.kind}`}>
                <span class="diff-sign" aria-label={l.kind === 'add' ? 'added' : l.kind === 'del' ? 'removed' : undefined}>
                  {l.kind === 'add' ? '+' : l.kind === 'del' ? '−' : ' '}
                </span>
                {l.text}
              </div>
            ),
          )}
        </pre>
      ) : null}
    </section>
  );
}
