import { useEffect, useRef, useState } from 'preact/hooks';
import { all, api, ApiError, enc, type Agent, type CallDetail, type CallTurn } from '../api';
import { Button, Dialog, ErrorText, Field, Loading, say, when } from '../components/ui';
import { Link } from '../router';
import { Robot } from './Calls';
import { session } from '../session';
import { watchCall, type LiveEvent } from '../live-call';

/** A call in progress is re-read this often. */
const REFRESH_MS = 1500;

const METRICS = ['endpointMs', 'responseMs', 'llmFirstTokenMs', 'ttsFirstByteMs'] as const;

/** `canAssume`: a signed-in person (assume dials the person who asks; an API key has nobody to dial). */
export function CallPage({ id, canAssume }: { id: string; canAssume: boolean }) {
  const [call, setCall] = useState<CallDetail | null>(null);
  const [agents, setAgents] = useState<Agent[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [assuming, setAssuming] = useState(false);
  const [handing, setHanding] = useState(false);
  const [hangingUp, setHangingUp] = useState(false);
  /** The live feed's events while it works; null: the call record's own (polling, or an ended call). */
  const [feed, setFeed] = useState<LiveEvent[] | null>(null);
  const log = useRef<HTMLOListElement>(null);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    let refreshing: ReturnType<typeof setTimeout> | null = null;
    let closeFeed: (() => void) | null = null;
    let stop = false;
    all<Agent>('/agents').then(setAgents, () => {});
    const read = async () => {
      const c = await api<CallDetail>('GET', `/calls/${enc(id)}`);
      if (!stop) {
        setCall(c);
        setError(null);
      }
      return c;
    };
    const failed = (e: unknown) =>
      setError(e instanceof ApiError && e.status === 404 ? 'There is no call with this id.' : e instanceof Error ? e.message : String(e));
    // Without the live feed: the call is read again every REFRESH_MS until it ends.
    const poll = async () => {
      try {
        const c = await read();
        if (!stop && c.state !== 'ended') timer = setTimeout(poll, REFRESH_MS);
      } catch (e) {
        failed(e);
        if (!stop) timer = setTimeout(poll, REFRESH_MS * 2);
      }
    };
    // State, handler and outcome come from the call record: read it again after events that change them.
    const refresh = () => {
      if (refreshing) return;
      refreshing = setTimeout(() => {
        refreshing = null;
        if (!stop) read().catch(failed);
      }, 50);
    };
    read().then(
      (c) => {
        const token = session.get()?.token;
        if (stop || c.state === 'ended' || !token) return;
        const seen: LiveEvent[] = [];
        let caughtUp = false;
        closeFeed = watchCall(id, token, {
          onEvent(e) {
            seen.push(e);
            if (caughtUp) setFeed([...seen]);
            if (/^(call|handoff)\./.test(e.type)) refresh();
          },
          onCaughtUp() {
            caughtUp = true;
            setFeed([...seen]);
            refresh();
          },
          onFail() {
            if (stop) return;
            setFeed(null);
            void poll();
          },
        });
      },
      (e) => {
        failed(e);
        if (!stop) timer = setTimeout(poll, REFRESH_MS * 2);
      },
    );
    return () => {
      stop = true;
      if (timer) clearTimeout(timer);
      if (refreshing) clearTimeout(refreshing);
      closeFeed?.();
    };
  }, [id]);

  useEffect(() => {
    if (call?.state !== 'ended') log.current?.lastElementChild?.scrollIntoView?.({ block: 'nearest' });
  }, [feed?.length, call?.turns.length]);

  if (!call) {
    return (
      <main id="main" class="page">
        <h1 tabIndex={-1}>Call</h1>
        {error ? <ErrorText error={error} /> : <Loading what="the call" />}
      </main>
    );
  }

  const agent = agents.find((a) => a.id === (call.handler.agentId ?? call.agent.id));
  const aiHas = call.handler.kind === 'ai';
  const liveCall = call.state !== 'ended';
  const turns = feed ? turnsOf(feed) : call.turns;
  const events = feed ?? call.events;
  return (
    <main id="main" class="page">
      <nav class="crumbs" aria-label="Breadcrumb">
        <Link href="/calls">Calls</Link> <span aria-hidden="true">/</span> <span>{call.id}</span>
      </nav>
      <div class="page-head">
        <h1 tabIndex={-1}>{call.direction === 'inbound' ? `Call from ${call.from}` : `Call to ${call.to}`}</h1>
        <span class={`badge call-${call.state}`}>{call.state === 'ended' ? 'Ended' : call.state === 'human' ? 'With a person' : call.state === 'ai' ? 'With the AI' : call.state === 'transferring' ? 'Transferring' : 'Connecting'}</span>
        {liveCall ? <span class={`badge ${feed ? 'badge-online' : 'badge-grey'}`}>{feed ? 'Live' : 'Refreshing'}</span> : null}
        {call.assigneeUnreachable ? <span class="badge badge-caution">⚠ Assignee unreachable</span> : null}
        <span class="spacer" />
        {call.state === 'ai' && canAssume ? (
          <Button kind="primary" onClick={() => setAssuming(true)}>
            Assume conversation
          </Button>
        ) : null}
        {call.state === 'human' ? (
          <Button kind="primary" onClick={() => setHanding(true)}>
            Transfer to AI
          </Button>
        ) : null}
        {call.state !== 'ended' ? <Button onClick={() => setHangingUp(true)}>End call</Button> : null}
      </div>
      <p class="muted">
        {aiHas ? (
          <span class="ai-handler">
            <Robot /> {agent?.name ?? call.agent.slug} (version {call.handler.version ?? call.version})
          </span>
        ) : (
          'A person has the call.'
        )}{' '}
        · started {when(call.createdAt)}
        {call.endedAt ? ` · ended ${when(call.endedAt)}` : ''}
        {call.outcome ? ` · ${call.outcome.kind}` : ''}
      </p>
      <ErrorText error={error} />
      {call.recordingUrl ? (
        <p>
          <audio controls src={call.recordingUrl} aria-label="Recording" />
        </p>
      ) : null}
      <div class="call-layout">
        <section class="panel" aria-labelledby="transcript-h">
          <h2 id="transcript-h">Transcript</h2>
          {turns.length === 0 ? <p class="muted">Nothing said yet.</p> : null}
          <ol class="chat-log transcript" ref={log} aria-live={liveCall ? 'polite' : 'off'}>
            {turns.map((t, i) => (
              <li key={i} class={t.role === 'caller' ? 'chat-caller' : t.role === 'staff' ? 'chat-staff' : 'chat-agent'}>
                <span class="turn-who">{t.role === 'caller' ? 'Caller' : t.role === 'staff' ? 'Staff' : 'Agent'}</span>
                {t.via === 'dtmf' ? `⌨ ${t.text}` : t.text}
                {t.interrupted ? <span class="muted small"> (interrupted)</span> : null}
                {t.metrics ? (
                  <span class="turn-metrics">
                    {METRICS.filter((m) => t.metrics![m] !== undefined)
                      .map((m) => `${m.replace(/Ms$/, '')} ${Math.round(t.metrics![m]!)} ms`)
                      .join(' · ')}
                  </span>
                ) : null}
              </li>
            ))}
          </ol>
        </section>
        <section class="panel" aria-labelledby="events-h">
          <h2 id="events-h">Events</h2>
          <ol class="events" aria-live={liveCall ? 'polite' : 'off'}>
            {events.filter((e) => !e.type.startsWith('turn.')).map((e, i) => (
              <li key={i}>
                <span class="muted small">{new Date(e.at).toLocaleTimeString()}</span> <code>{e.type}</code> {describeEvent(e)}
              </li>
            ))}
          </ol>
        </section>
      </div>
      {assuming ? <Assume callId={call.id} onClose={() => setAssuming(false)} /> : null}
      {handing ? <TransferToAi callId={call.id} agents={agents} onClose={() => setHanding(false)} /> : null}
      {hangingUp ? <HangUp callId={call.id} onClose={() => setHangingUp(false)} /> : null}
    </main>
  );
}

/** The transcript from the feed's turn events, as the call record keeps it (what the caller heard of an interrupted reply). */
function turnsOf(events: LiveEvent[]): CallTurn[] {
  const out: CallTurn[] = [];
  for (const e of events) {
    const base = { at: e.at, ...(e.metrics ? { metrics: e.metrics as Record<string, number> } : {}) };
    if (e.type === 'turn.caller') out.push({ ...base, role: 'caller', text: String(e.text), ...(e.via ? { via: e.via as 'speech' | 'dtmf' } : {}) });
    else if (e.type === 'turn.staff') out.push({ ...base, role: 'staff', text: String(e.text) });
    else if (e.type === 'turn.agent') {
      const whole = e.outcome === 'played';
      out.push({ ...base, role: 'agent', text: String(whole ? e.text : e.heardText || e.text), ...(whole ? {} : { interrupted: true }) });
    }
  }
  return out;
}

function describeEvent(e: Record<string, unknown>): string {
  const bits: string[] = [];
  for (const k of ['nodeId', 'to', 'from', 'reason', 'outcome', 'fallbackNode', 'by', 'agentId', 'name'] as const) {
    const v = e[k];
    if (typeof v === 'string' || typeof v === 'number') bits.push(`${k} ${v}`);
  }
  return bits.join(', ');
}

function Assume({ callId, onClose }: { callId: string; onClose: () => void }) {
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title="Assume this conversation?" onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          try {
            await api('POST', `/calls/${enc(callId)}/assume`, reason.trim() ? { reason: reason.trim() } : {});
            say('Your phone rings now; the caller is on hold until you answer.');
            onClose();
          } catch (err) {
            setError(err instanceof ApiError && err.status === 409 ? 'Someone already has this call, or it has ended.' : err instanceof Error ? err.message : String(err));
            setBusy(false);
          }
        }}
      >
        <p>The AI stops at once and the caller holds while your phone rings. If you do not answer, the AI takes the caller back.</p>
        <Field label="Reason (optional)">
          <textarea rows={2} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </Field>
        <ErrorText error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button kind="primary" type="submit" disabled={busy}>
            Assume
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function HangUp({ callId, onClose }: { callId: string; onClose: () => void }) {
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title="End this call?" onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          try {
            await api('POST', `/calls/${enc(callId)}/hang-up`, reason.trim() ? { reason: reason.trim() } : {});
            say('The call has ended.');
            onClose();
          } catch (err) {
            setError(err instanceof ApiError && err.code === 'CALL_ENDED' ? 'The call has already ended.' : err instanceof Error ? err.message : String(err));
            setBusy(false);
          }
        }}
      >
        <p>The caller is hung up, and so is anyone else on the call: the AI or the person handling it.</p>
        <Field label="Reason (optional)" hint="Kept in the call's history.">
          <textarea rows={2} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </Field>
        <ErrorText error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button kind="danger" type="submit" disabled={busy}>
            End call
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function TransferToAi({ callId, agents, onClose }: { callId: string; agents: Agent[]; onClose: () => void }) {
  const active = agents.filter((a) => a.state === 'active');
  const [agentId, setAgentId] = useState(active[0]?.id ?? '');
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title="Transfer to an AI agent" onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          try {
            await api('POST', `/calls/${enc(callId)}/transfer-to-ai`, { agentId, ...(reason.trim() ? { reason: reason.trim() } : {}) });
            say('The caller is back with the AI.');
            onClose();
          } catch (err) {
            setError(err instanceof ApiError && err.code === 'AGENT_NOT_ACTIVE' ? 'That agent is not active any more; pick another.' : err instanceof Error ? err.message : String(err));
            setBusy(false);
          }
        }}
      >
        {active.length === 0 ? <p class="error-text">No agent is active, so none can take the call.</p> : null}
        <Field label="Agent" hint="Only active agents can take a call.">
          <select value={agentId} onChange={(e) => setAgentId(e.currentTarget.value)} required>
            {active.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name} (v{a.servedVersion})
              </option>
            ))}
          </select>
        </Field>
        <Field label="Reason (optional)">
          <textarea rows={2} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </Field>
        <ErrorText error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button kind="primary" type="submit" disabled={busy || active.length === 0}>
            Transfer
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
