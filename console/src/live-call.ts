/** A call's live feed, `WS /api/v1/calls/:id/live` (docs/handoff.md#the-live-feed). */
export type LiveEvent = { type: string; at: string } & Record<string, unknown>;

export interface LiveCallHandlers {
  /** Each event of the call: first everything so far, then each new one as it happens. */
  onEvent(e: LiveEvent): void;
  /** The backlog has been sent; `ended`: nothing more will come. */
  onCaughtUp(ended: boolean): void;
  /** The feed cannot be used (refused, dropped or never opened): the page falls back to polling. */
  onFail(): void;
}

/**
 * Opens the feed. The token travels as a subprotocol, as on the workspace
 * socket, so it never appears in a URL. The server closes with 1000 after the
 * call has ended; any other close is a failure. Returns a function that stops.
 */
export function watchCall(id: string, token: string, h: LiveCallHandlers): () => void {
  let stopped = false;
  let failed = false;
  const fail = () => {
    if (stopped || failed) return;
    failed = true;
    h.onFail();
  };
  let ws: WebSocket;
  try {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/calls/${encodeURIComponent(id)}/live`;
    ws = new WebSocket(url, ['bearer', token]);
  } catch {
    queueMicrotask(fail);
    return () => void (stopped = true);
  }
  ws.onmessage = (ev) => {
    if (stopped) return;
    let m: { type?: string; event?: LiveEvent; ended?: boolean };
    try {
      m = JSON.parse(String(ev.data)) as typeof m;
    } catch {
      return; // not JSON: ignore
    }
    if (m.type === 'event' && m.event) h.onEvent(m.event);
    else if (m.type === 'caught_up') h.onCaughtUp(m.ended === true);
  };
  ws.onclose = (ev) => {
    if (ev.code !== 1000) fail();
  };
  return () => {
    stopped = true;
    ws.onclose = null;
    ws.close(1000);
  };
}
