import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { AgentState } from '../api';
import { Store, useStore } from '../store';

export function StateBadge({ state }: { state: AgentState }) {
  const label = state === 'draft' ? 'Draft' : state === 'active' ? 'Active' : 'Inactive';
  return <span class={`badge badge-${state}`}>{label}</span>;
}

/**
 * A modal on the native <dialog>: focus moves in and is trapped, Escape
 * closes it, and focus returns to the opener when it closes.
 */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    const opener = document.activeElement as HTMLElement | null;
    d.showModal();
    return () => {
      d.close();
      opener?.focus?.();
    };
  }, []);
  const id = `dlg-${props.title.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <dialog
      ref={ref}
      class={props.wide ? 'dialog wide' : 'dialog'}
      aria-labelledby={id}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <h2 id={id}>{props.title}</h2>
      {props.children}
    </dialog>
  );
}

export function ErrorText({ error, id }: { error: string | null | undefined; id?: string }) {
  if (!error) return null;
  return (
    <p class="error-text" role="alert" id={id}>
      {error}
    </p>
  );
}

export function Field(props: { label: string; hint?: string; children: ComponentChildren }) {
  return (
    <label class="field">
      <span class="field-label">{props.label}</span>
      {props.children}
      {props.hint ? <span class="field-hint">{props.hint}</span> : null}
    </label>
  );
}

export function Button(props: JSX.IntrinsicElements['button'] & { kind?: 'primary' | 'danger' | 'plain'; type?: 'button' | 'submit'; disabled?: boolean }) {
  const { kind = 'plain', type = 'button', class: cls, ...rest } = props;
  return <button type={type} class={`btn btn-${kind} ${cls ?? ''}`} {...rest} />;
}

/** Announcements for screen readers and a visible toast. */
export const toast = new Store<{ text: string; kind: 'ok' | 'error'; n: number } | null>(null);
let toastN = 0;
export function say(text: string, kind: 'ok' | 'error' = 'ok'): void {
  const n = ++toastN;
  toast.set({ text, kind, n });
  setTimeout(() => {
    if (toast.get()?.n === n) toast.set(null);
  }, 5000);
}

export function Toasts() {
  const t = useStore(toast);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {t ? <div class={`toast toast-${t.kind}`}>{t.text}</div> : null}
    </div>
  );
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

/**
 * A dialog form's submit: busy while the request runs; on failure the form
 * stays open (nothing typed is lost) and shows the error, in words from
 * `explain` when it knows the API code, else the server's message.
 */
export function useSubmit(action: () => Promise<void>, explain: (err: unknown) => string | undefined = () => undefined) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(explain(err) ?? (err instanceof Error ? err.message : String(err)));
      setBusy(false);
    }
  };
  return { error, busy, submit };
}
