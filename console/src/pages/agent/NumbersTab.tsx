import { useState } from 'preact/hooks';
import { api, ApiError, enc, type Agent, type PhoneNumber } from '../../api';
import { Button, ErrorText, Field, say, when } from '../../components/ui';

export function NumbersTab(props: { agent: Agent; editor: boolean; numbers: PhoneNumber[]; onChanged: () => void }) {
  const [e164, setE164] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const assign = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    const n = e164.replace(/[\s()-]/g, '');
    try {
      await api('PUT', `/phone-numbers/${enc(n)}`, { agentId: props.agent.id });
      say(`${n} now rings ${props.agent.name}.`);
      setE164('');
      props.onChanged();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'NUMBER_TAKEN') setError(`${n} is assigned to another agent (${String(err.details?.agentId ?? '?')}). Release it there first.`);
      else if (err instanceof ApiError && err.status === 400) setError('Write the number in E.164 form: + then the country code and number, e.g. +15550100001.');
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const release = async (n: string) => {
    try {
      await api('DELETE', `/phone-numbers/${enc(n)}`);
      say(`${n} released.`);
      props.onChanged();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  return (
    <section aria-labelledby="numbers-h">
      <h2 id="numbers-h">Phone numbers</h2>
      {props.numbers.length === 0 ? (
        <p class="muted">No number rings this agent yet.</p>
      ) : (
        <ul class="plain-list">
          {props.numbers.map((n) => (
            <li key={n.e164}>
              <code>{n.e164}</code> <span class="muted small">since {when(n.updatedAt)}</span>{' '}
              {props.editor ? (
                <Button onClick={() => void release(n.e164)} aria-label={`Release ${n.e164}`}>
                  Release
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {props.editor ? (
        <form class="inline-form" onSubmit={assign}>
          <Field label="Assign a number" hint="E.164, e.g. +15550100001. A number rings one agent at most.">
            <input type="tel" required value={e164} onInput={(e) => setE164(e.currentTarget.value)} />
          </Field>
          <Button kind="primary" type="submit" disabled={busy}>
            Assign
          </Button>
        </form>
      ) : null}
      <ErrorText error={error} />
    </section>
  );
}
