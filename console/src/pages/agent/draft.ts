import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, enc, type Agent } from '../../api';

export type SaveState =
  | { kind: 'saved' }
  | { kind: 'saving' }
  | { kind: 'unsaved'; invalidJson?: string }
  | { kind: 'error'; message: string }
  | { kind: 'conflict'; currentRevision: number };

/** How long typing must pause before the draft saves itself. */
export const AUTOSAVE_MS = 2000;

export function parseFlow(text: string): { flow: Record<string, unknown> } | { error: string } {
  try {
    const v: unknown = JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) return { error: 'A flow is a JSON object ({ … }).' };
    return { flow: v as Record<string, unknown> };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

export const pretty = (flow: unknown) => JSON.stringify(flow, null, 2);

/**
 * The draft being edited: its text, the revision it is based on, and the save
 * state. Saves 2 s after the last edit, or at once on save(); a stale revision
 * stops auto-saving and keeps the text until the person decides.
 */
export function useDraft(agentId: string, onSaved: (a: Agent) => void) {
  const [text, setTextState] = useState<string | null>(null);
  // Bumped when the text comes from the server (load, reload), not from typing: the editor
  // takes the text from props only then, so a render running behind the typing never pushes an
  // older text back into it (which lost keystrokes and moved the cursor to the top).
  const [loads, setLoads] = useState(0);
  const [state, setState] = useState<SaveState>({ kind: 'saved' });
  const textRef = useRef<string | null>(null);
  const revision = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const inFlight = useRef<Promise<void> | null>(null);
  const conflict = useRef(false);
  const savedText = useRef<string | null>(null);

  const load = useCallback(async () => {
    const d = await api<{ flow: unknown; revision: number }>('GET', `/agents/${enc(agentId)}/draft`);
    const t = pretty(d.flow ?? { version: 1, name: '', start: '', nodes: [] });
    revision.current = d.revision;
    textRef.current = t;
    savedText.current = t;
    conflict.current = false;
    setTextState(t);
    setLoads((n) => n + 1);
    setState({ kind: 'saved' });
    return d.revision;
  }, [agentId]);

  useEffect(() => {
    void load().catch((e: Error) => setState({ kind: 'error', message: e.message }));
    return () => {
      if (timer.current) clearTimeout(timer.current);
    };
  }, [load]);

  const save = useCallback(
    async (overRevision?: number): Promise<void> => {
      if (timer.current) clearTimeout(timer.current);
      timer.current = null;
      if (inFlight.current) await inFlight.current;
      const t = textRef.current;
      if (t === null) return;
      if (overRevision !== undefined) {
        revision.current = overRevision;
        conflict.current = false;
      }
      if (conflict.current) return;
      if (t === savedText.current) return setState({ kind: 'saved' });
      const parsed = parseFlow(t);
      if ('error' in parsed) return setState({ kind: 'unsaved', invalidJson: parsed.error });
      setState({ kind: 'saving' });
      const run = (async () => {
        try {
          const a = await api<Agent>('PUT', `/agents/${enc(agentId)}/draft`, { flow: parsed.flow, baseRevision: revision.current });
          revision.current = a.draft.revision;
          savedText.current = t;
          setState(textRef.current === t ? { kind: 'saved' } : { kind: 'unsaved' });
          onSaved(a);
        } catch (e) {
          if (e instanceof ApiError && e.code === 'STALE_REVISION') {
            conflict.current = true;
            setState({ kind: 'conflict', currentRevision: Number(e.details?.currentRevision ?? NaN) });
          } else {
            setState({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
          }
        }
      })();
      inFlight.current = run;
      await run;
      inFlight.current = null;
      // Edits made while saving: save them too (after the usual pause).
      if (!conflict.current && textRef.current !== savedText.current && !timer.current) {
        timer.current = setTimeout(() => void save(), AUTOSAVE_MS);
      }
    },
    [agentId, onSaved],
  );

  const edit = useCallback(
    (t: string) => {
      textRef.current = t;
      setTextState(t);
      if (conflict.current) return;
      if (t === savedText.current) {
        if (timer.current) clearTimeout(timer.current);
        timer.current = null;
        return setState({ kind: 'saved' });
      }
      const parsed = parseFlow(t);
      setState('error' in parsed ? { kind: 'unsaved', invalidJson: parsed.error } : { kind: 'unsaved' });
      if (timer.current) clearTimeout(timer.current);
      timer.current = setTimeout(() => void save(), AUTOSAVE_MS);
    },
    [save],
  );

  // Leaving the agent inside the console saves pending edits at once instead of dropping them.
  const saveRef = useRef(save);
  saveRef.current = save;
  useEffect(
    () => () => {
      if (!conflict.current && textRef.current !== savedText.current) void saveRef.current();
    },
    [],
  );

  // Leaving the page with unsaved work asks first.
  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => {
      if (textRef.current !== savedText.current) e.preventDefault();
    };
    addEventListener('beforeunload', warn);
    return () => removeEventListener('beforeunload', warn);
  }, []);

  return { text, loads, state, edit, save, reload: load, revision, dirty: () => textRef.current !== savedText.current };
}
