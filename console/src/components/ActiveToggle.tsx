import { useState } from 'preact/hooks';
import { api, ApiError, enc, type Agent } from '../api';
import { Button, Dialog, ErrorText, Field, say, useSubmit } from './ui';

/**
 * The Active switch: a change applies at once, so it asks first, with an
 * optional reason that goes into the audit log.
 */
export function ActiveToggle({ agent, onChanged, disabled }: { agent: Agent; onChanged: (a: Agent) => void; disabled?: boolean }) {
  const [open, setOpen] = useState(false);
  const active = agent.state === 'active';
  const noVersion = agent.latestVersion === 0;
  const hintId = `toggle-hint-${agent.id}`;
  return (
    <span class="toggle-wrap">
      <button
        type="button"
        role="switch"
        class="switch"
        aria-checked={active}
        aria-label={`Active: ${agent.name}`}
        aria-describedby={noVersion && !active ? hintId : undefined}
        disabled={disabled || (noVersion && !active)}
        onClick={() => setOpen(true)}
      >
        <span class="switch-knob" aria-hidden="true" />
      </button>
      {noVersion && !active ? (
        <span id={hintId} class="field-hint">
          Publish a version first
        </span>
      ) : null}
      {open ? <ConfirmToggle agent={agent} onClose={() => setOpen(false)} onDone={(a) => (setOpen(false), onChanged(a))} /> : null}
    </span>
  );
}

function ConfirmToggle({ agent, onClose, onDone }: { agent: Agent; onClose: () => void; onDone: (a: Agent) => void }) {
  const activating = agent.state !== 'active';
  const [reason, setReason] = useState('');
  const { error, busy, submit } = useSubmit(
    async () => {
      const body = reason.trim() ? { reason: reason.trim() } : {};
      const a = await api<Agent>('POST', `/agents/${enc(agent.id)}/${activating ? 'activate' : 'deactivate'}`, body);
      say(activating ? `${agent.name} is active, serving version ${a.servedVersion}.` : `${agent.name} is inactive.`);
      onDone(a);
    },
    (err) =>
      err instanceof ApiError && err.code === 'INVALID_FLOW'
        ? 'The latest version does not pass validation, so it cannot go live. Fix the draft and publish again.'
        : undefined,
  );
  return (
    <Dialog title={activating ? `Activate ${agent.name}?` : `Deactivate ${agent.name}?`} onClose={onClose}>
      <form onSubmit={submit}>
        {activating ? (
          <p>
            New calls are answered by version {agent.latestVersion} (the latest) from now on.
            {agent.state === 'inactive' && agent.servedVersion !== null && agent.servedVersion !== agent.latestVersion
              ? ` It was serving version ${agent.servedVersion}.`
              : ''}
          </p>
        ) : (
          <p>New calls get the unavailable message from now on. Calls in progress finish on the version they started with.</p>
        )}
        <Field label="Reason (optional)" hint="Kept in the audit log.">
          <textarea name="reason" rows={2} maxLength={1000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </Field>
        <ErrorText error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button kind={activating ? 'primary' : 'danger'} type="submit" disabled={busy}>
            {activating ? 'Activate' : 'Deactivate'}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
