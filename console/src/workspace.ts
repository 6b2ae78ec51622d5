import { Store } from './store';
import type { Session } from './session';

/** What the workspace socket tells the page (docs/people.md). */
export const workspaceState = new Store<{ connected: boolean; offers: unknown[] }>({ connected: false, offers: [] });

const HEARTBEAT_MS = 15_000;

/**
 * One banner entry per call: a `ringing` offer adds (or replaces) the call's entry; any other
 * status (accepted, declined, no_answer, caller_hung_up, …) means the phone stopped ringing, so
 * the entry goes (docs/people.md, the workspace socket).
 */
export function nextOffers(offers: unknown[], offer: unknown): unknown[] {
  const o = offer as { callSid?: string; status?: string } | undefined;
  if (!o?.callSid) return offers;
  const others = offers.filter((x) => (x as { callSid?: string }).callSid !== o.callSid);
  return o.status === 'ringing' ? [...others, o] : others;
}
const RETRY_MS = [1000, 2000, 5000, 10_000, 30_000];

/**
 * Keeps a signed-in person online while the console is open: the workspace
 * WebSocket with a heartbeat every 15 s, reconnecting after drops. Close code
 * 4001 (signed out, disabled, removed) ends the session in this tab too.
 * The token travels as a subprotocol, so it never appears in a URL.
 */
export function connectWorkspace(s: Session, onAccessEnded: () => void, onMessage: (m: { type: string; [k: string]: unknown }) => void): () => void {
  let ws: WebSocket | null = null;
  let beat: ReturnType<typeof setInterval> | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;
  let attempt = 0;
  let stopped = false;

  const open = () => {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/workspace`;
    ws = new WebSocket(url, ['bearer', s.token]);
    ws.onopen = () => {
      attempt = 0;
      workspaceState.set({ ...workspaceState.get(), connected: true });
      beat = setInterval(() => ws?.readyState === WebSocket.OPEN && ws.send('{"type":"heartbeat"}'), HEARTBEAT_MS);
    };
    ws.onmessage = (ev) => {
      try {
        const m = JSON.parse(String(ev.data)) as { type: string };
        if (m.type === 'transfer.offer') workspaceState.set({ ...workspaceState.get(), offers: nextOffers(workspaceState.get().offers, (m as { offer?: unknown }).offer) });
        onMessage(m);
      } catch {
        // not JSON: ignore
      }
    };
    ws.onclose = (ev) => {
      if (beat) clearInterval(beat);
      beat = null;
      workspaceState.set({ ...workspaceState.get(), connected: false });
      if (stopped) return;
      if (ev.code === 4001) return onAccessEnded();
      retry = setTimeout(open, RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]);
    };
  };
  open();
  return () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    if (beat) clearInterval(beat);
    ws?.close(1000);
  };
}
