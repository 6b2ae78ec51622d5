import { useEffect, useState } from 'preact/hooks';
import { all, api, type Agent, type CallSummary, type Page } from '../api';
import { ErrorText, Loading, when } from '../components/ui';
import { Link } from '../router';

/** While the page is open, the list refreshes this often (calls in progress change quickly). */
const REFRESH_MS = 3000;

export function Robot() {
  return (
    <svg class="robot" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
      <rect x="4" y="7" width="16" height="12" rx="3" fill="none" stroke="currentColor" stroke-width="2" />
      <circle cx="9.5" cy="13" r="1.6" fill="currentColor" />
      <circle cx="14.5" cy="13" r="1.6" fill="currentColor" />
      <path d="M12 3v4" stroke="currentColor" stroke-width="2" />
    </svg>
  );
}

const STATE = { connecting: 'Connecting', ai: 'AI', transferring: 'Transferring', human: 'Person', ended: 'Ended' } as const;

export function Calls() {
  const [calls, setCalls] = useState<CallSummary[] | null>(null);
  const [agents, setAgents] = useState<Map<string, Agent>>(new Map());
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    all<Agent>('/agents').then((a) => setAgents(new Map(a.map((x) => [x.id, x]))), () => {});
    const load = () =>
      api<Page<CallSummary>>('GET', '/calls?limit=100')
        .then((p) => (setCalls(p.items), setError(null)))
        .catch((e: Error) => setError(e.message));
    void load();
    const t = setInterval(load, REFRESH_MS);
    return () => clearInterval(t);
  }, []);

  const live = calls?.filter((c) => c.state !== 'ended') ?? [];
  const history = calls?.filter((c) => c.state === 'ended') ?? [];
  const name = (c: CallSummary) => agents.get(c.agent.id)?.name ?? c.agent.slug;

  const table = (items: CallSummary[], caption: string) => (
    <div class="table-wrap">
      <table class="table calls-table">
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Call</th>
            <th scope="col">Handled by</th>
            <th scope="col">State</th>
            <th scope="col" class="col-wide">Started</th>
            <th scope="col" class="col-wide">Outcome</th>
          </tr>
        </thead>
        <tbody>
          {items.map((c) => (
            <tr key={c.id} data-call={c.id}>
              <td>
                <Link href={`/calls/${encodeURIComponent(c.id)}`}>{c.direction === 'inbound' ? c.from : c.to}</Link>
                <div class="muted small">{c.direction === 'inbound' ? `to ${c.to}` : 'outbound'}</div>
              </td>
              <td>
                {c.state === 'human' ? (
                  <span>A person</span>
                ) : (
                  <span class="ai-handler">
                    <Robot /> {name(c)} <span class="muted small">v{c.version}</span>
                  </span>
                )}
                {c.assigneeUnreachable ? (
                  <span class="badge badge-caution" title="The person who handled this call was removed or deleted">
                    ⚠ Assignee unreachable
                  </span>
                ) : null}
              </td>
              <td>
                <span class={`badge call-${c.state}`}>{STATE[c.state]}</span>
              </td>
              <td class="col-wide nowrap">{when(c.createdAt)}</td>
              <td class="col-wide">{c.outcome ? c.outcome.kind : <span class="muted">—</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );

  return (
    <main id="main" class="page">
      <div class="page-head">
        <h1 tabIndex={-1}>Calls</h1>
      </div>
      <ErrorText error={error} />
      {!calls && !error ? <Loading what="calls" /> : null}
      {calls ? (
        <>
          <section aria-labelledby="live-h">
            <h2 id="live-h">In progress ({live.length})</h2>
            {live.length === 0 ? <p class="muted">No calls right now.</p> : table(live, 'Calls in progress')}
          </section>
          <section aria-labelledby="history-h" class="calls-history">
            <h2 id="history-h">History</h2>
            {history.length === 0 ? <p class="muted">No finished calls yet.</p> : table(history, 'Finished calls, newest first')}
          </section>
        </>
      ) : null}
    </main>
  );
}
