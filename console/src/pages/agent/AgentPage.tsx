import { useCallback, useEffect, useState } from 'preact/hooks';
import { all, api, ApiError, enc, type Agent, type Finding, type PhoneNumber, type Validation } from '../../api';
import { ActiveToggle } from '../../components/ActiveToggle';
import { Button, Dialog, ErrorText, Field, Loading, say, StateBadge } from '../../components/ui';
import { Link } from '../../router';
import { can, type Session } from '../../session';
import { AuditTab } from './AuditTab';
import { FlowTab } from './FlowTab';
import { NumbersTab } from './NumbersTab';
import { TestChatTab } from './TestChatTab';
import { UnavailableTab } from './UnavailableTab';
import { VersionsTab } from './VersionsTab';
import { useDraft, type SaveState } from './draft';

const TABS = [
  { id: '', label: 'Flow' },
  { id: 'versions', label: 'Versions' },
  { id: 'audit', label: 'Audit log' },
  { id: 'numbers', label: 'Phone numbers' },
  { id: 'chat', label: 'Test chat', editorsOnly: true },
  { id: 'unavailable', label: 'When unavailable' },
] as const;

export function AgentPage({ id, tab, session }: { id: string; tab: string; session: Session }) {
  const [agent, setAgent] = useState<Agent | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [validation, setValidation] = useState<Validation | null>(null);
  const [numbers, setNumbers] = useState<PhoneNumber[]>([]);
  const [publishing, setPublishing] = useState(false);
  const [versionsKey, setVersionsKey] = useState(0);
  const editor = can.editAgents(session.role);

  const validate = useCallback(async () => {
    try {
      setValidation(await api<Validation>('POST', `/agents/${enc(id)}/validate`, {}));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [id]);

  const onSaved = useCallback(
    (a: Agent) => {
      setAgent(a);
      void validate();
    },
    [validate],
  );
  const draft = useDraft(id, onSaved);

  const loadNumbers = useCallback(async (agentId: string) => setNumbers((await all<PhoneNumber>('/phone-numbers')).filter((n) => n.agentId === agentId)), []);

  useEffect(() => {
    setAgent(null);
    setError(null);
    api<Agent>('GET', `/agents/${enc(id)}`)
      .then((a) => {
        setAgent(a);
        document.title = `${a.name} · Voice agents console`;
        void loadNumbers(a.id);
      })
      .catch((e: Error) => setError(e instanceof ApiError && e.status === 404 ? 'There is no agent with this id or slug.' : e.message));
    void validate();
  }, [id, validate, loadNumbers]);

  // Ctrl/Cmd+S saves from anywhere on the page, not only inside the editor.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's' && editor) {
        e.preventDefault();
        void draft.save();
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [draft.save, editor]);

  if (error && !agent) {
    return (
      <main id="main" class="page">
        <h1 tabIndex={-1}>Agent</h1>
        <ErrorText error={error} />
        <Link href="/agents">Back to agents</Link>
      </main>
    );
  }
  if (!agent) {
    return (
      <main id="main" class="page">
        <Loading what="the agent" />
      </main>
    );
  }

  const base = `/agents/${encodeURIComponent(agent.slug)}`;
  return (
    <main id="main" class="page agent-page">
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link href="/agents">Agents</Link> <span aria-hidden="true">/</span> <span>{agent.slug}</span>
      </nav>
      <div class="page-head agent-head">
        <h1 tabIndex={-1}>{agent.name}</h1>
        <StateBadge state={agent.state} />
        <span class="muted">{agent.servedVersion !== null ? `serving v${agent.servedVersion}` : 'not serving'} · latest v{agent.latestVersion}</span>
        <span class="spacer" />
        {editor ? <SaveStatus state={draft.state} onRetry={() => void draft.save()} /> : null}
        {editor ? (
          <>
            <label class="toggle-label">
              <span>Active</span>
              <ActiveToggle agent={agent} onChanged={setAgent} />
            </label>
            <Button kind="primary" onClick={() => setPublishing(true)}>
              Publish
            </Button>
          </>
        ) : null}
      </div>
      {draft.state.kind === 'conflict' ? <ConflictBanner draft={draft} agentId={agent.id} current={draft.state.currentRevision} /> : null}
      <nav class="tabs" aria-label="Agent sections">
        {TABS.filter((t) => !('editorsOnly' in t) || editor).map((t) => (
          <Link key={t.id} href={t.id ? `${base}/${t.id}` : base} class="tab" aria-current={tab === t.id ? 'page' : undefined}>
            {t.label}
          </Link>
        ))}
      </nav>
      {tab === '' ? (
        draft.text === null ? (
          <Loading what="the draft" />
        ) : (
          <FlowTab text={draft.text} loads={draft.loads} readOnly={!editor} validation={validation} numbers={numbers.map((n) => n.e164)} onEdit={draft.edit} onSave={() => void draft.save()} />
        )
      ) : null}
      {tab === 'versions' ? <VersionsTab key={versionsKey} agent={agent} editor={editor} onAgent={setAgent} onCopyToDraft={(t) => draft.edit(t)} /> : null}
      {tab === 'audit' ? <AuditTab agent={agent} /> : null}
      {tab === 'numbers' ? <NumbersTab agent={agent} editor={can.assignNumbers(session.role)} numbers={numbers} onChanged={() => void loadNumbers(agent.id)} /> : null}
      {tab === 'chat' && editor ? <TestChatTab agent={agent} /> : null}
      {tab === 'unavailable' ? <UnavailableTab agent={agent} editor={editor} onAgent={setAgent} /> : null}
      {publishing ? (
        <PublishDialog
          agent={agent}
          beforePublish={async () => {
            await draft.save();
            // Publishing takes the saved draft: never publish an older copy than what is on screen.
            if (draft.dirty()) throw new Error('The draft on screen is not saved (see the save state above), so it cannot be published yet.');
          }}
          onClose={() => setPublishing(false)}
          onDone={(a) => {
            setPublishing(false);
            setAgent(a);
            setVersionsKey((k) => k + 1);
          }}
        />
      ) : null}
    </main>
  );
}

function SaveStatus({ state, onRetry }: { state: SaveState; onRetry: () => void }) {
  const text =
    state.kind === 'saved'
      ? 'Saved'
      : state.kind === 'saving'
        ? 'Saving…'
        : state.kind === 'unsaved'
          ? state.invalidJson
            ? 'Unsaved changes (the JSON has a syntax error)'
            : 'Unsaved changes'
          : state.kind === 'conflict'
            ? 'Not saved: changed elsewhere'
            : `Error: ${state.message}`;
  return (
    <span class={`save-status save-${state.kind}`} role="status" aria-live="polite" data-save={state.kind}>
      {text}
      {state.kind === 'error' ? (
        <button type="button" class="btn btn-plain small" onClick={onRetry}>
          Retry
        </button>
      ) : null}
    </span>
  );
}

function ConflictBanner({ draft, agentId, current }: { draft: ReturnType<typeof useDraft>; agentId: string; current: number }) {
  const [busy, setBusy] = useState(false);
  return (
    <div class="banner banner-warn" role="alert">
      <p>
        <strong>This draft was saved somewhere else</strong> (now revision {Number.isFinite(current) ? current : '?'}) after you started editing revision{' '}
        {draft.revision.current}. Your changes are still here and have not been saved. Keep yours to save them over the other copy, or discard yours and load the
        other copy.
      </p>
      <div class="banner-actions">
        <Button
          kind="primary"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            const latest = await api<{ revision: number }>('GET', `/agents/${enc(agentId)}/draft`);
            await draft.save(latest.revision);
            setBusy(false);
          }}
        >
          Keep mine and save
        </Button>
        <Button
          kind="danger"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            await draft.reload();
            setBusy(false);
          }}
        >
          Discard mine, load theirs
        </Button>
      </div>
    </div>
  );
}

function PublishDialog(props: { agent: Agent; beforePublish: () => Promise<void>; onClose: () => void; onDone: (a: Agent) => void }) {
  const [note, setNote] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [findings, setFindings] = useState<Finding[]>([]);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setFindings([]);
    try {
      await props.beforePublish();
      const v = await api<{ version: number }>('POST', `/agents/${enc(props.agent.id)}/publish`, note.trim() ? { note: note.trim() } : {});
      say(`Published version ${v.version}.`);
      props.onDone(await api<Agent>('GET', `/agents/${enc(props.agent.id)}`));
    } catch (err) {
      if (err instanceof ApiError && err.code === 'INVALID_FLOW') {
        setError('The draft has errors, so it cannot be published. Fix these first (the checklist shows where):');
        setFindings(((err.details?.errors as Finding[] | undefined) ?? []).slice(0, 10));
      } else setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Publish ${props.agent.name}`} onClose={props.onClose}>
      <form onSubmit={submit}>
        <p>
          The saved draft becomes version {props.agent.latestVersion + 1}. Publishing does not change what callers hear: activate it or switch to it
          afterwards.
        </p>
        <Field label="Note (optional)" hint="What changed, for the version history.">
          <textarea name="note" rows={2} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        </Field>
        <ErrorText error={error} />
        {findings.length > 0 ? (
          <ul class="findings-plain">
            {findings.map((f, i) => (
              <li key={i}>
                {f.nodeId ? <code>{f.nodeId}</code> : null} {f.message}
              </li>
            ))}
          </ul>
        ) : null}
        <div class="dialog-actions">
          <Button onClick={props.onClose}>Cancel</Button>
          <Button kind="primary" type="submit" disabled={busy}>
            Publish
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
