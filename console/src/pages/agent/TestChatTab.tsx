import { useEffect, useRef, useState } from 'preact/hooks';
import { all, api, ApiError, enc, type Agent, type ChatTurn, type VersionSummary } from '../../api';
import { Button, ErrorText, Field } from '../../components/ui';

type Line = { who: 'agent' | 'caller' | 'system'; text: string };

const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];

/** Talks to the draft or a version by text and keypad through the real interpreter (no audio). */
export function TestChatTab({ agent }: { agent: Agent }) {
  const [versions, setVersions] = useState<VersionSummary[]>([]);
  const [target, setTarget] = useState('draft');
  const [chat, setChat] = useState<ChatTurn | null>(null);
  const [lines, setLines] = useState<Line[]>([]);
  const [input, setInput] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const log = useRef<HTMLOListElement>(null);

  useEffect(() => {
    all<VersionSummary>(`/agents/${enc(agent.id)}/versions`).then(setVersions, () => {});
  }, [agent.id]);
  useEffect(() => {
    log.current?.lastElementChild?.scrollIntoView?.({ block: 'nearest' });
  }, [lines]);

  const absorb = (t: ChatTurn, sent?: Line) => {
    const out: Line[] = sent ? [sent] : [];
    for (const tr of t.transitions) out.push({ who: 'system', text: `→ ${tr.to} (${tr.nodeType})` });
    for (const r of t.replies) {
      if (r.type === 'say' && r.text) out.push({ who: 'agent', text: r.text });
      else if (r.type === 'transfer') out.push({ who: 'system', text: `Transfer to ${JSON.stringify(r.target)}${r.mode ? ` (${r.mode})` : ''}: treated as connected` });
      else if (r.type === 'hangup') out.push({ who: 'system', text: 'The agent hung up.' });
    }
    if (t.status !== 'waiting') out.push({ who: 'system', text: `Chat ended${t.result ? `: ${JSON.stringify(t.result)}` : ''}.` });
    setLines((l) => [...l, ...out]);
    setChat(t);
  };

  const start = async () => {
    setBusy(true);
    setError(null);
    setLines([]);
    try {
      const body = target === 'draft' ? {} : { version: Number(target) };
      absorb(await api<ChatTurn>('POST', `/agents/${enc(agent.id)}/test-chat`, body));
    } catch (e) {
      setChat(null);
      setError(e instanceof ApiError && e.code === 'INVALID_FLOW' ? 'The draft has errors; fix them (see the checklist) or chat with a published version.' : e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  const send = async (body: { text: string } | { digits: string }) => {
    if (!chat) return;
    setBusy(true);
    setError(null);
    try {
      const shown: Line = { who: 'caller', text: 'text' in body ? body.text : `⌨ ${body.digits}` };
      absorb(await api<ChatTurn>('POST', `/test-chats/${enc(chat.id)}/messages`, body), shown);
      setInput('');
    } catch (e) {
      setError(e instanceof ApiError && e.details?.expects ? `The agent is waiting for ${describe(e.details.expects as ChatTurn['expects'])}.` : e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  const open = chat?.status === 'waiting';
  return (
    <section class="test-chat" aria-labelledby="chat-h">
      <h2 id="chat-h">Test chat</h2>
      <div class="inline-form">
        <Field label="Talk to">
          <select value={target} onChange={(e) => setTarget(e.currentTarget.value)}>
            <option value="draft">The draft</option>
            {versions.map((v) => (
              <option key={v.version} value={String(v.version)}>
                Version {v.version}
              </option>
            ))}
          </select>
        </Field>
        <Button kind="primary" onClick={() => void start()} disabled={busy}>
          {chat ? 'Restart' : 'Start'}
        </Button>
      </div>
      <ol class="chat-log" ref={log} aria-live="polite" aria-label="Conversation">
        {lines.map((l, i) => (
          <li key={i} class={`chat-${l.who}`}>
            <span class="visually-hidden">{l.who === 'agent' ? 'Agent: ' : l.who === 'caller' ? 'You: ' : ''}</span>
            {l.text}
          </li>
        ))}
      </ol>
      {chat ? (
        <p class="muted small">{open ? `Waiting for ${describe(chat.expects)}.` : 'The chat has ended; restart to try again.'}</p>
      ) : null}
      <ErrorText error={error} />
      <form
        class="chat-input"
        onSubmit={(e) => {
          e.preventDefault();
          if (input.trim()) void send({ text: input.trim() });
        }}
      >
        <Field label="Say">
          <input value={input} disabled={!open || busy} onInput={(e) => setInput(e.currentTarget.value)} />
        </Field>
        <Button type="submit" disabled={!open || busy || !input.trim()}>
          Send
        </Button>
      </form>
      <div class="keypad" role="group" aria-label="Keypad">
        {KEYS.map((k) => (
          <button key={k} type="button" class="key" disabled={!open || busy || chat?.expects?.dtmf === false} onClick={() => void send({ digits: k })} aria-label={`Press ${k}`}>
            {k}
          </button>
        ))}
      </div>
    </section>
  );
}

function describe(e: ChatTurn['expects']): string {
  if (!e) return 'nothing';
  if (e.speech && e.dtmf) return 'speech or keys';
  if (e.dtmf) return 'keys';
  return 'speech';
}
