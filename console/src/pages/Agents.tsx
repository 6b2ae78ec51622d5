import { useEffect, useState } from 'preact/hooks';
import { all, api, ApiError, type Agent } from '../api';
import { ActiveToggle } from '../components/ActiveToggle';
import { Button, Dialog, ErrorText, Field, Loading, StateBadge, useSubmit, when } from '../components/ui';
import { Link, navigate } from '../router';
import { can, type Session } from '../session';

export function Agents({ session }: { session: Session }) {
  const [agents, setAgents] = useState<Agent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const editor = can.editAgents(session.role);

  useEffect(() => {
    all<Agent>('/agents')
      .then(setAgents)
      .catch((e: Error) => setError(e.message));
  }, []);

  const replace = (a: Agent) => setAgents((list) => list?.map((x) => (x.id === a.id ? a : x)) ?? null);

  return (
    <main id="main" class="page">
      <div class="page-head">
        <h1 tabIndex={-1}>Agents</h1>
        {editor ? (
          <Button kind="primary" onClick={() => setCreating(true)}>
            New agent
          </Button>
        ) : null}
      </div>
      <ErrorText error={error} />
      {!agents && !error ? <Loading what="agents" /> : null}
      {agents && agents.length === 0 ? <p class="muted">No agents yet.</p> : null}
      {agents && agents.length > 0 ? (
        <div class="table-wrap">
          <table class="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">State</th>
                <th scope="col">Serving</th>
                <th scope="col" class="col-wide">Latest</th>
                <th scope="col" class="col-wide">Draft saved</th>
                {editor ? <th scope="col">Active</th> : null}
              </tr>
            </thead>
            <tbody>
              {agents.map((a) => (
                <tr key={a.id} data-agent={a.slug}>
                  <td>
                    <Link href={`/agents/${encodeURIComponent(a.slug)}`}>{a.name}</Link>
                    <div class="muted small">{a.slug}</div>
                  </td>
                  <td>
                    <StateBadge state={a.state} />
                  </td>
                  <td>{a.servedVersion === null ? '—' : `v${a.servedVersion}`}</td>
                  <td class="col-wide">{a.latestVersion === 0 ? 'unpublished' : `v${a.latestVersion}`}</td>
                  <td class="col-wide nowrap">{when(a.draft.updatedAt)}</td>
                  {editor ? (
                    <td>
                      <ActiveToggle agent={a} onChanged={replace} />
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {creating ? <CreateAgent onClose={() => setCreating(false)} /> : null}
    </main>
  );
}

function CreateAgent({ onClose }: { onClose: () => void }) {
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const { error, busy, submit } = useSubmit(
    async () => {
      const flow = {
        version: 1,
        name: name.trim(),
        start: 'hello',
        nodes: [
          { id: 'hello', type: 'say', text: `Thanks for calling ${name.trim()}.`, next: 'bye' },
          { id: 'bye', type: 'end', text: 'Goodbye.' },
        ],
      };
      const a = await api<Agent>('POST', '/agents', { name: name.trim(), ...(slug.trim() ? { slug: slug.trim() } : {}), flow });
      navigate(`/agents/${encodeURIComponent(a.slug)}`);
    },
    (err) => (err instanceof ApiError && err.code === 'SLUG_TAKEN' ? 'Another agent already has that slug.' : undefined),
  );
  return (
    <Dialog title="New agent" onClose={onClose}>
      <form onSubmit={submit}>
        <Field label="Name">
          <input required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Slug (optional)" hint="Used in URLs and PHONE_NUMBERS; made from the name when empty.">
          <input value={slug} pattern="[a-z0-9][a-z0-9-]*" onInput={(e) => setSlug(e.currentTarget.value)} />
        </Field>
        <ErrorText error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button kind="primary" type="submit" disabled={busy}>
            Create
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
