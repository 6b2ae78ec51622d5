import { useCallback, useEffect, useState } from 'preact/hooks';
import { all, api, ApiError, enc, type Queue, type Role, type Staff, type Usage } from '../api';
import { Menu, type MenuItem } from '../components/Menu';
import { Button, Dialog, ErrorText, Field, Loading, say } from '../components/ui';

/** How often the directory refreshes presence while it is open. */
const REFRESH_MS = 10_000;
const MIN_PASSWORD = 6;

type Confirm = { title: string; body: string; label: string; danger?: boolean; run: () => Promise<void> };

export function StaffPage({ selfId }: { selfId?: string }) {
  const [people, setPeople] = useState<Staff[] | null>(null);
  const [queues, setQueues] = useState<Queue[]>([]);
  const [usage, setUsage] = useState<Usage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<Staff | null>(null);
  const [confirm, setConfirm] = useState<Confirm | null>(null);
  const [link, setLink] = useState<{ name: string; url: string; expiresAt: string } | null>(null);
  const [reinvite, setReinvite] = useState<Staff | null>(null);

  const load = useCallback(async () => {
    try {
      const [p, q, u] = await Promise.all([all<Staff>('/staff'), all<Queue>('/queues'), api<Usage>('GET', '/usage')]);
      setPeople(p);
      setQueues(q);
      setUsage(u);
      setSelected((s) => new Set([...s].filter((id) => p.some((x) => x.id === id))));
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, []);

  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(t);
  }, [load]);

  const queueName = (id: string) => queues.find((q) => q.id === id)?.name ?? id;
  const act = async (fn: () => Promise<unknown>, done: string) => {
    try {
      await fn();
      say(done);
    } catch (e) {
      say(e instanceof Error ? e.message : String(e), 'error');
    }
    await load();
  };

  const invite = async (p: Staff, body: { role?: Role } = {}) => {
    const r = await api<{ activationUrl: string; expiresAt: string }>('POST', `/staff/${enc(p.id)}/invite`, body);
    setLink({ name: p.displayName, url: r.activationUrl, expiresAt: r.expiresAt });
    await load();
  };

  const rowItems = (p: Staff): MenuItem[] => {
    const items: MenuItem[] = [];
    if (p.state !== 'removed') items.push({ label: 'Edit', onSelect: () => setEditing(p) });
    if (p.state === 'enabled') items.push({ label: 'Disable', onSelect: () => void act(() => api('PATCH', `/staff/${enc(p.id)}`, { state: 'disabled' }), `${p.displayName} is disabled.`) });
    if (p.state === 'disabled') items.push({ label: 'Enable', onSelect: () => void act(() => api('PATCH', `/staff/${enc(p.id)}`, { state: 'enabled' }), `${p.displayName} is enabled.`) });
    if (p.state === 'invited') items.push({ label: 'Re-send activation link', onSelect: () => void invite(p).catch((e: Error) => say(e.message, 'error')) });
    if (p.state === 'removed') items.push({ label: 'Invite again', onSelect: () => setReinvite(p) });
    if (p.state !== 'removed')
      items.push({
        label: 'Remove from workspace',
        danger: true,
        onSelect: () =>
          setConfirm({
            title: `Remove ${p.displayName}?`,
            body: 'They lose access at once and leave every queue; their seat is freed. You can invite them again later.',
            label: 'Remove',
            danger: true,
            run: () => api('POST', `/staff/${enc(p.id)}/remove`, {}).then(() => say(`${p.displayName} was removed from the workspace.`)),
          }),
      });
    items.push({
      label: 'Delete',
      danger: true,
      onSelect: () =>
        setConfirm({
          title: `Delete ${p.displayName}?`,
          body: 'This cannot be undone. They lose access at once; calls they handled stay readable.',
          label: 'Delete',
          danger: true,
          run: () => api('DELETE', `/staff/${enc(p.id)}`).then(() => say(`${p.displayName} was deleted.`)),
        }),
    });
    return items;
  };

  const bulk = (action: 'enable' | 'disable' | 'delete') => {
    const ids = [...selected];
    const n = ids.length;
    const who = `${n} ${n === 1 ? 'person' : 'people'}`;
    setConfirm({
      title: `${action === 'enable' ? 'Enable' : action === 'disable' ? 'Disable' : 'Delete'} ${who}?`,
      body:
        action === 'delete'
          ? `This deletes ${who} and cannot be undone.`
          : action === 'disable'
            ? `${who} lose access at once until enabled again.`
            : `${who} can sign in again.`,
      label: action === 'enable' ? `Enable ${n}` : action === 'disable' ? `Disable ${n}` : `Delete ${n}`,
      danger: action !== 'enable',
      run: async () => {
        const r = await api<{ results: { id: string; ok: boolean; error?: { message: string } }[] }>('POST', '/staff/bulk', { ids, action });
        const failed = r.results.filter((x) => !x.ok);
        setSelected(new Set());
        if (failed.length === 0) say(`Done for ${who}.`);
        else say(`${n - failed.length} of ${n} done; ${failed.length} failed: ${failed.map((f) => f.error?.message ?? f.id).join('; ')}`, 'error');
      },
    });
  };

  const toggle = (id: string, on: boolean) =>
    setSelected((s) => {
      const next = new Set(s);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  const allSelected = !!people && people.length > 0 && people.every((p) => selected.has(p.id));

  return (
    <main id="main" class="page">
      <div class="page-head">
        <h1 tabIndex={-1}>Staff</h1>
        <Button kind="primary" onClick={() => setAdding(true)}>
          Add person
        </Button>
      </div>
      <ErrorText error={error} />
      <div class="staff-layout">
        <div>
          {selected.size > 0 ? (
            <div class="bulk-bar" role="region" aria-label="Bulk actions">
              <strong aria-live="polite">{selected.size} selected</strong>
              <Button onClick={() => bulk('enable')}>Enable</Button>
              <Button onClick={() => bulk('disable')}>Disable</Button>
              <Button kind="danger" onClick={() => bulk('delete')}>
                Delete
              </Button>
              <Button onClick={() => setSelected(new Set())}>Clear selection</Button>
            </div>
          ) : null}
          {!people ? <Loading what="staff" /> : null}
          {people && people.length === 0 ? <p class="muted">Nobody yet. Add the first person.</p> : null}
          {people && people.length > 0 ? (
            <div class="table-wrap">
              <table class="table staff-table">
                <thead>
                  <tr>
                    <th scope="col">
                      <input type="checkbox" aria-label="Select everyone" checked={allSelected} onChange={(e) => setSelected(e.currentTarget.checked ? new Set(people.map((p) => p.id)) : new Set())} />
                    </th>
                    <th scope="col">Name</th>
                    <th scope="col" class="col-wide">Username</th>
                    <th scope="col" class="col-wide">Queues</th>
                    <th scope="col">Status</th>
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {people.map((p) => (
                    <tr key={p.id} data-staff={p.username}>
                      <td>
                        <input type="checkbox" aria-label={`Select ${p.displayName}`} checked={selected.has(p.id)} onChange={(e) => toggle(p.id, e.currentTarget.checked)} />
                      </td>
                      <td>
                        <div class={p.state === 'disabled' || p.state === 'removed' ? 'person disabled' : 'person'}>
                          <span class="avatar" aria-hidden="true">
                            {(p.displayName.trim()[0] ?? '?').toUpperCase()}
                          </span>
                          <span>
                            <span class="person-name">{p.displayName}</span>
                            {p.id === selfId ? <span class="muted small"> (you)</span> : null}
                            <div class="muted small">{p.role ?? 'no role'}</div>
                          </span>
                          {p.state === 'disabled' ? <span class="badge badge-grey">Disabled</span> : null}
                          {p.state === 'invited' ? <span class="badge badge-invited">Invited</span> : null}
                          {p.state === 'removed' ? <span class="badge badge-grey">Removed</span> : null}
                        </div>
                      </td>
                      <td class="col-wide">{p.username}</td>
                      <td class="col-wide">
                        {p.queues.length === 0 ? (
                          <span class="badge badge-grey">No queue</span>
                        ) : (
                          p.queues.map((q) => (
                            <span key={q} class="badge badge-queue">
                              {queueName(q)}
                            </span>
                          ))
                        )}
                      </td>
                      <td>{p.presence === 'online' ? <span class="badge badge-online">Online</span> : <span class="badge badge-offline">Offline</span>}</td>
                      <td>
                        <Menu label={`Actions for ${p.displayName}`} items={rowItems(p)} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
        </div>
        <div class="side-stack">
          <UsagePanel usage={usage} />
          <QueuesPanel queues={queues} people={people ?? []} onChanged={load} onConfirm={setConfirm} />
        </div>
      </div>
      {adding ? (
        <AddPerson
          queues={queues}
          onClose={() => setAdding(false)}
          onDone={async (p, withLink) => {
            setAdding(false);
            say(`${p.displayName} was added.`);
            if (withLink) await invite(p).catch((e: Error) => say(e.message, 'error'));
            else await load();
          }}
        />
      ) : null}
      {editing ? (
        <EditPerson
          person={editing}
          queues={queues}
          onClose={() => setEditing(null)}
          onDone={async (p) => {
            setEditing(null);
            say(`${p.displayName} was saved.`);
            await load();
          }}
        />
      ) : null}
      {reinvite ? (
        <Reinvite
          person={reinvite}
          onClose={() => setReinvite(null)}
          onInvite={async (role) => {
            await invite(reinvite, { role });
            setReinvite(null);
          }}
        />
      ) : null}
      {confirm ? (
        <ConfirmDialog
          c={confirm}
          onClose={() => setConfirm(null)}
          onDone={async () => {
            setConfirm(null);
            await load();
          }}
        />
      ) : null}
      {link ? (
        <Dialog title={`Activation link for ${link.name}`} onClose={() => setLink(null)}>
          <p>Send this link to {link.name}. It works once, until {new Date(link.expiresAt).toLocaleDateString()}; sending a new one replaces it.</p>
          <div class="link-box">
            <input readOnly value={link.url} aria-label="Activation link" onFocus={(e) => e.currentTarget.select()} />
            <Button onClick={() => void navigator.clipboard?.writeText(link.url).then(() => say('Link copied.'))}>Copy</Button>
          </div>
          <div class="dialog-actions">
            <Button kind="primary" onClick={() => setLink(null)}>
              Done
            </Button>
          </div>
        </Dialog>
      ) : null}
    </main>
  );
}

function UsagePanel({ usage }: { usage: Usage | null }) {
  if (!usage) return null;
  const { used, limit } = usage.seats;
  const ratio = limit ? used / limit : 0;
  const cls = limit && used >= limit ? 'usage-full' : limit && ratio >= 0.8 ? 'usage-near' : '';
  return (
    <section class={`panel ${cls}`} aria-labelledby="usage-h">
      <h2 id="usage-h">Usage overview</h2>
      <p class="usage-seats">
        <strong>{used}</strong> {limit === null ? 'seats used (no limit)' : `of ${limit} seats used`}
        {cls === 'usage-near' ? ' — close to the limit' : cls === 'usage-full' ? ' — the limit is reached' : ''}
      </p>
      {limit !== null ? (
        <div class="usage-meter" role="meter" aria-label="Seats used" aria-valuemin={0} aria-valuemax={limit} aria-valuenow={used}>
          <span style={{ width: `${Math.min(100, ratio * 100)}%` }} />
        </div>
      ) : null}
      <p class="muted small">Invited, enabled and disabled people take a seat.</p>
      <p>
        <span class="big-number">{usage.sessionsLast30Days}</span> <span class="muted">sessions handled by people in the last 30 days</span>
      </p>
    </section>
  );
}

function QueuesPanel(props: { queues: Queue[]; people: Staff[]; onChanged: () => Promise<void>; onConfirm: (c: Confirm) => void }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [renaming, setRenaming] = useState<Queue | null>(null);
  const add = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      await api('POST', '/queues', { name: name.trim() });
      setName('');
      say('Queue added.');
      await props.onChanged();
    } catch (err) {
      setError(err instanceof ApiError && err.code === 'QUEUE_NAME_TAKEN' ? 'A queue with that name exists.' : err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <section class="panel" aria-labelledby="queues-h">
      <h2 id="queues-h">Queues</h2>
      {props.queues.length === 0 ? <p class="muted">No queues yet.</p> : null}
      <ul class="plain-list">
        {props.queues.map((q) => (
          <li key={q.id}>
            <span class="badge badge-queue">{q.name}</span>
            <span class="muted small">
              {q.members.length} member{q.members.length === 1 ? '' : 's'}
            </span>
            <span class="spacer" />
            <Menu
              label={`Actions for queue ${q.name}`}
              items={[
                { label: 'Rename', onSelect: () => setRenaming(q) },
                {
                  label: 'Delete',
                  danger: true,
                  onSelect: () =>
                    props.onConfirm({
                      title: `Delete the queue ${q.name}?`,
                      body: 'Its members stay; transfers to this queue then have nobody to ring.',
                      label: 'Delete',
                      danger: true,
                      run: () => api('DELETE', `/queues/${enc(q.id)}`).then(() => say(`Queue ${q.name} deleted.`)),
                    }),
                },
              ]}
            />
          </li>
        ))}
      </ul>
      <form class="inline-form" onSubmit={add}>
        <Field label="New queue">
          <input required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Button type="submit">Add</Button>
      </form>
      <ErrorText error={error} />
      <p class="muted small">Choose members in each person's Edit dialog.</p>
      {renaming ? <RenameQueue queue={renaming} onClose={() => setRenaming(null)} onDone={async () => (setRenaming(null), await props.onChanged())} /> : null}
    </section>
  );
}

function RenameQueue({ queue, onClose, onDone }: { queue: Queue; onClose: () => void; onDone: () => Promise<void> }) {
  const [name, setName] = useState(queue.name);
  const [error, setError] = useState<string | null>(null);
  return (
    <Dialog title={`Rename ${queue.name}`} onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            await api('PATCH', `/queues/${enc(queue.id)}`, { name: name.trim() });
            await onDone();
          } catch (err) {
            setError(err instanceof ApiError && err.code === 'QUEUE_NAME_TAKEN' ? 'A queue with that name exists.' : err instanceof Error ? err.message : String(err));
          }
        }}
      >
        <Field label="Name">
          <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <ErrorText error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button kind="primary" type="submit">
            Rename
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function ConfirmDialog({ c, onClose, onDone }: { c: Confirm; onClose: () => void; onDone: () => Promise<void> }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title={c.title} onClose={onClose}>
      <p>{c.body}</p>
      <ErrorText error={error} />
      <div class="dialog-actions">
        <Button onClick={onClose}>Cancel</Button>
        <Button
          kind={c.danger ? 'danger' : 'primary'}
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            try {
              await c.run();
              await onDone();
            } catch (e) {
              setError(e instanceof Error ? e.message : String(e));
              setBusy(false);
            }
          }}
        >
          {c.label}
        </Button>
      </div>
    </Dialog>
  );
}

/** Field errors from a 400 VALIDATION_FAILED (`details.issues[].path` like `body.password`). */
function fieldErrors(e: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (e instanceof ApiError && e.code === 'VALIDATION_FAILED') {
    for (const i of (e.details?.issues as { path?: string; message?: string }[] | undefined) ?? []) {
      const f = i.path?.replace(/^body\./, '').split('.')[0];
      if (f && !out[f]) out[f] = i.message ?? 'not valid';
    }
  }
  return out;
}

function RoleSelect({ value, onChange }: { value: Role; onChange: (r: Role) => void }) {
  return (
    <Field label="Role" hint="Admin: everything. Builder: agents and flows. Support: calls, read-only agents.">
      <select value={value} onChange={(e) => onChange(e.currentTarget.value as Role)}>
        <option value="support">Support</option>
        <option value="builder">Builder</option>
        <option value="admin">Admin</option>
      </select>
    </Field>
  );
}

function AddPerson({ queues, onClose, onDone }: { queues: Queue[]; onClose: () => void; onDone: (p: Staff, withLink: boolean) => Promise<void> }) {
  const [displayName, setDisplayName] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('support');
  const [picked, setPicked] = useState<string[]>([]);
  const [errs, setErrs] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const local: Record<string, string> = {};
    if (password && password.length < MIN_PASSWORD) local.password = `The password needs at least ${MIN_PASSWORD} characters.`;
    setErrs(local);
    if (Object.keys(local).length) return;
    setBusy(true);
    try {
      const body = { displayName: displayName.trim(), username: username.trim(), role, queues: picked, ...(password ? { password } : {}), ...(email.trim() ? { email: email.trim() } : {}) };
      const p = await api<Staff>('POST', '/staff', body);
      await onDone(p, !password);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'USERNAME_TAKEN') setErrs({ username: 'That username is taken.' });
      else if (err instanceof ApiError && err.code === 'SEAT_LIMIT_REACHED') setError('Every seat is taken: free one (remove or delete someone) or raise SEAT_LIMIT.');
      else {
        const f = fieldErrors(err);
        if (Object.keys(f).length) setErrs(f);
        else setError(err instanceof Error ? err.message : String(err));
      }
      setBusy(false);
    }
  };

  return (
    <Dialog title="Add a person" onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <Field label="Display name">
          <input required value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} aria-invalid={!!errs.displayName} />
        </Field>
        <ErrorText error={errs.displayName} />
        <Field label="Username" hint="Letters, digits, dot, dash, underscore. It cannot change later.">
          <input required autoComplete="off" value={username} class={errs.username ? 'input-error' : ''} aria-invalid={!!errs.username} aria-describedby={errs.username ? 'add-username-err' : undefined} onInput={(e) => setUsername(e.currentTarget.value)} />
        </Field>
        <ErrorText error={errs.username} id="add-username-err" />
        <Field label="Initial password" hint={`At least ${MIN_PASSWORD} characters. Leave it empty to get an activation link to send instead.`}>
          <input type="password" autoComplete="new-password" value={password} class={errs.password ? 'input-error' : ''} aria-invalid={!!errs.password} aria-describedby={errs.password ? 'add-password-err' : undefined} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        <ErrorText error={errs.password} id="add-password-err" />
        <Field label="Email (optional)">
          <input type="email" value={email} class={errs.email ? 'input-error' : ''} aria-invalid={!!errs.email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </Field>
        <ErrorText error={errs.email} />
        <RoleSelect value={role} onChange={setRole} />
        <QueuePicker queues={queues} picked={picked} onChange={setPicked} />
        <ErrorText error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button kind="primary" type="submit" disabled={busy}>
            Add
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function QueuePicker({ queues, picked, onChange }: { queues: Queue[]; picked: string[]; onChange: (ids: string[]) => void }) {
  if (queues.length === 0) return null;
  return (
    <fieldset>
      <legend>Queues</legend>
      <div class="queue-picks">
        {queues.map((q) => (
          <label key={q.id}>
            <input type="checkbox" checked={picked.includes(q.id)} onChange={(e) => onChange(e.currentTarget.checked ? [...picked, q.id] : picked.filter((x) => x !== q.id))} /> {q.name}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

function EditPerson({ person, queues, onClose, onDone }: { person: Staff; queues: Queue[]; onClose: () => void; onDone: (p: Staff) => Promise<void> }) {
  const [displayName, setDisplayName] = useState(person.displayName);
  const [password, setPassword] = useState('');
  const [email, setEmail] = useState(person.email ?? '');
  const [role, setRole] = useState<Role>(person.role ?? 'support');
  const [showReal, setShowReal] = useState(person.showRealPhoneNumbers);
  const [max, setMax] = useState(person.maxConcurrentSessions === null ? '' : String(person.maxConcurrentSessions));
  const [phone, setPhone] = useState(person.phone ?? '');
  const [picked, setPicked] = useState<string[]>(person.queues);
  const [errs, setErrs] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const local: Record<string, string> = {};
    if (password && password.length < MIN_PASSWORD) local.password = `The password needs at least ${MIN_PASSWORD} characters.`;
    if (max.trim() && !/^\d+$/.test(max.trim())) local.maxConcurrentSessions = 'A whole number, or empty for unlimited.';
    setErrs(local);
    if (Object.keys(local).length) return;
    setBusy(true);
    try {
      const body: Record<string, unknown> = {
        displayName: displayName.trim(),
        email: email.trim() || null,
        role,
        showRealPhoneNumbers: showReal,
        maxConcurrentSessions: max.trim() ? Number(max.trim()) : null,
        queues: picked,
      };
      if (password) body.password = password;
      if (phone.trim() !== (person.phone ?? '')) body.phone = phone.trim() || null;
      await onDone(await api<Staff>('PATCH', `/staff/${enc(person.id)}`, body));
    } catch (err) {
      const f = fieldErrors(err);
      if (Object.keys(f).length) setErrs(f);
      else setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };

  return (
    <Dialog title={`Edit ${person.displayName}`} onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <Field label="Display name">
          <input required value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} />
        </Field>
        <ErrorText error={errs.displayName} />
        <Field label="New password (optional)" hint="Leave empty to keep the current one.">
          <input type="password" autoComplete="new-password" value={password} class={errs.password ? 'input-error' : ''} aria-invalid={!!errs.password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        <ErrorText error={errs.password} />
        <Field label="Email">
          <input type="email" value={email} aria-invalid={!!errs.email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </Field>
        <ErrorText error={errs.email} />
        <RoleSelect value={role} onChange={setRole} />
        <label class="check-row">
          <input type="checkbox" checked={showReal} onChange={(e) => setShowReal(e.currentTarget.checked)} /> Show real customer phone numbers
        </label>
        <Field label="Max concurrent sessions" hint="Empty for unlimited.">
          <input inputMode="numeric" value={max} aria-invalid={!!errs.maxConcurrentSessions} onInput={(e) => setMax(e.currentTarget.value)} />
        </Field>
        <ErrorText error={errs.maxConcurrentSessions} />
        <Field label="Phone for transfers (E.164, optional)">
          <input type="tel" value={phone} aria-invalid={!!errs.phone} onInput={(e) => setPhone(e.currentTarget.value)} />
        </Field>
        <ErrorText error={errs.phone} />
        <QueuePicker queues={queues} picked={picked} onChange={setPicked} />
        <ErrorText error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button kind="primary" type="submit" disabled={busy}>
            Save
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function Reinvite({ person, onClose, onInvite }: { person: Staff; onClose: () => void; onInvite: (role: Role) => Promise<void> }) {
  const [role, setRole] = useState<Role>('support');
  const [error, setError] = useState<string | null>(null);
  return (
    <Dialog title={`Invite ${person.displayName} again`} onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            await onInvite(role);
          } catch (err) {
            setError(err instanceof ApiError && err.code === 'SEAT_LIMIT_REACHED' ? 'Every seat is taken.' : err instanceof Error ? err.message : String(err));
          }
        }}
      >
        <RoleSelect value={role} onChange={setRole} />
        <ErrorText error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button kind="primary" type="submit">
            Invite
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
