import { useState } from 'preact/hooks';
import { api, enc, type Agent, type Unavailable } from '../../api';
import { Button, ErrorText, Field, say } from '../../components/ui';

type Then = 'hangup' | 'number' | 'queue';

/** What callers hear when the agent is not active or it is outside business hours without a closed node. */
export function UnavailableTab(props: { agent: Agent; editor: boolean; onAgent: (a: Agent) => void }) {
  const u = props.agent.unavailable;
  const [message, setMessage] = useState(u.message);
  const [then, setThen] = useState<Then>(u.then === 'hangup' ? 'hangup' : 'number' in u.then ? 'number' : 'queue');
  const [target, setTarget] = useState(u.then === 'hangup' ? '' : 'number' in u.then ? u.then.number : u.then.queue);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const patch = async (unavailable: Unavailable | null) => {
    setBusy(true);
    setError(null);
    try {
      const a = await api<Agent>('PATCH', `/agents/${enc(props.agent.id)}`, { unavailable });
      props.onAgent(a);
      setMessage(a.unavailable.message);
      const t = a.unavailable.then;
      setThen(t === 'hangup' ? 'hangup' : 'number' in t ? 'number' : 'queue');
      setTarget(t === 'hangup' ? '' : 'number' in t ? t.number : t.queue);
      say('Unavailable behaviour saved.');
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  const submit = (e: Event) => {
    e.preventDefault();
    const t = target.trim();
    void patch({ message: message.trim(), then: then === 'hangup' ? 'hangup' : then === 'number' ? { number: t } : { queue: t } });
  };

  const ro = !props.editor;
  return (
    <section aria-labelledby="unav-h">
      <h2 id="unav-h">When unavailable</h2>
      <p class="muted">Callers hear this while the agent is not active, and outside business hours when the flow has no closed node. Calls are never met with silence.</p>
      <form onSubmit={submit} class="stack">
        <Field label="Message">
          <textarea rows={3} required maxLength={1000} readOnly={ro} value={message} onInput={(e) => setMessage(e.currentTarget.value)} />
        </Field>
        <fieldset>
          <legend>Then</legend>
          {(['hangup', 'number', 'queue'] as const).map((k) => (
            <label key={k} class="radio">
              <input type="radio" name="then" value={k} checked={then === k} disabled={ro} onChange={() => setThen(k)} />{' '}
              {k === 'hangup' ? 'Hang up' : k === 'number' ? 'Forward to a phone number' : 'Transfer to a staff queue'}
            </label>
          ))}
        </fieldset>
        {then !== 'hangup' ? (
          <Field label={then === 'number' ? 'Phone number (E.164)' : 'Queue name'}>
            <input required readOnly={ro} type="text" inputMode={then === 'number' ? 'tel' : 'text'} value={target} onInput={(e) => setTarget(e.currentTarget.value)} />
          </Field>
        ) : null}
        <ErrorText error={error} />
        {props.editor ? (
          <div class="dialog-actions">
            <Button onClick={() => void patch(null)} disabled={busy}>
              Restore the default
            </Button>
            <Button kind="primary" type="submit" disabled={busy}>
              Save
            </Button>
          </div>
        ) : null}
      </form>
    </section>
  );
}
