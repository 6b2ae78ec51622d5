import { useEffect, useState } from 'preact/hooks';
import { all, enc, type Agent, type AuditEntry } from '../../api';
import { ErrorText, Loading, when } from '../../components/ui';

const ACTION = { activate: 'Activated', deactivate: 'Deactivated', switch: 'Switched version', rollback: 'Rolled back' } as const;

export function AuditTab({ agent }: { agent: Agent }) {
  const [items, setItems] = useState<AuditEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    all<AuditEntry>(`/agents/${enc(agent.id)}/audit`)
      .then(setItems)
      .catch((e: Error) => setError(e.message));
  }, [agent.id, agent.state, agent.servedVersion]);
  if (error) return <ErrorText error={error} />;
  if (!items) return <Loading what="the audit log" />;
  if (items.length === 0) return <p class="muted">No activations, deactivations or rollbacks yet.</p>;
  const v = (n: number | null) => (n === null ? '—' : `v${n}`);
  return (
    <div class="table-wrap">
      <table class="table audit">
        <caption class="visually-hidden">Audit log, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Action</th>
            <th scope="col">Who</th>
            <th scope="col">State</th>
            <th scope="col">Version</th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {items.map((e) => (
            <tr key={e.id}>
              <td>{when(e.at)}</td>
              <td>{ACTION[e.action] ?? e.action}</td>
              <td>{e.actor}</td>
              <td>
                {e.fromState} → {e.toState}
              </td>
              <td>
                {v(e.fromVersion)} → {v(e.toVersion)}
              </td>
              <td class="audit-reason">{e.reason ?? <span class="muted">—</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
