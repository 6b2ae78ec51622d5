import type { CallEvent, CallEventBus } from './events.js';

/**
 * The events of calls in progress, kept per call so a live-feed viewer who
 * joins late first gets everything so far, then each new event, with nothing
 * lost or repeated between the two. It hears every process's calls
 * (`subscribeAll`): a viewer's socket rarely sits on the process holding the
 * call. Ended calls keep their log for a while (the newest `keepEnded`); older
 * ones are read from SQL history instead.
 *
 * A log is complete when this process heard the call from its `call.started`;
 * then `subscribe` answers synchronously. A call that began before this process
 * listened (a process started mid-call) has a partial log: `join` takes the
 * backlog from elsewhere (the holder's feed, or history) and merges it with what
 * arrived meanwhile.
 */
export type FeedListener = (event: CallEvent) => void;

interface Log {
  events: CallEvent[];
  listeners: Set<FeedListener>;
  ended: boolean;
  /** Heard from `call.started` (or filled from a complete backlog since). */
  complete: boolean;
}

export interface FeedSubscription {
  /** Every event of the call so far, oldest first. */
  backlog: CallEvent[];
  /** The call has ended: nothing more will come. */
  ended: boolean;
  unsubscribe(): void;
}

/** Who watches a call through `join`: the backlog once, then each new event. */
export interface FeedViewer {
  backlog(events: CallEvent[], ended: boolean): void;
  event(e: CallEvent): void;
}

/** A call's events so far, as another process's feed (or history) has them. */
export interface FeedBacklog {
  events: CallEvent[];
  ended: boolean;
}

/** Two deliveries of one event are the same JSON (events carry no id; two identical ones in one ms are one). */
const keyOf = (e: CallEvent) => JSON.stringify(e);

export class LiveCallFeed {
  private readonly logs = new Map<string, Log>();
  private readonly endedOrder: string[] = [];
  private readonly unsubscribeBus: () => void;

  constructor(
    bus: CallEventBus,
    private readonly options: { maxEventsPerCall?: number; keepEnded?: number } = {},
  ) {
    this.unsubscribeBus = bus.subscribeAll((e) => this.onEvent(e));
  }

  /** Whether this feed has the call (in progress, or ended recently). */
  has(callSid: string): boolean {
    return this.logs.has(callSid);
  }

  /**
   * The backlog and, until the call ends, every new event to `listener`;
   * undefined when this feed does not have the call's whole log (see `join`).
   */
  subscribe(callSid: string, listener: FeedListener): FeedSubscription | undefined {
    const log = this.logs.get(callSid);
    if (!log?.complete) return undefined;
    if (!log.ended) log.listeners.add(listener);
    return { backlog: [...log.events], ended: log.ended, unsubscribe: () => void log.listeners.delete(listener) };
  }

  /** The whole log of a call, for another process's viewer; undefined when this feed has only part of it. */
  backlogOf(callSid: string): FeedBacklog | undefined {
    const log = this.logs.get(callSid);
    return log?.complete ? { events: [...log.events], ended: log.ended } : undefined;
  }

  /**
   * Like `subscribe`, for a call whose log here is partial or missing: new events
   * are listened for first, then `fetchBacklog` gives what came before, and the
   * two are merged without repeats. The viewer gets the backlog, then each new
   * event, in that order (both handed over synchronously once the backlog is in).
   * A complete backlog also fills this feed's log, so the next viewer here is
   * served at once.
   */
  async join(callSid: string, viewer: FeedViewer, fetchBacklog: () => Promise<FeedBacklog | undefined>): Promise<{ ended: boolean; unsubscribe(): void }> {
    const now = this.subscribe(callSid, (e) => viewer.event(e));
    if (now) {
      viewer.backlog(now.backlog, now.ended);
      return now;
    }
    const log = this.logOf(callSid);
    let live = false;
    // Until the backlog is in, new events only gather in the log (merged below).
    const relay: FeedListener = (e) => {
      if (live) viewer.event(e);
    };
    if (!log.ended) log.listeners.add(relay);
    const remote = await fetchBacklog().catch(() => undefined);
    const seen = new Set((remote?.events ?? []).map(keyOf));
    const merged = [...(remote?.events ?? []), ...log.events.filter((e) => !seen.has(keyOf(e)))];
    if (remote && !log.complete) {
      log.events = merged.slice(-(this.options.maxEventsPerCall ?? 5000));
      log.complete = true;
    }
    // Over elsewhere, and its end not heard here: nothing more will come.
    if (remote?.ended && !log.ended) this.markEnded(callSid, log);
    const ended = log.ended;
    if (ended) log.listeners.delete(relay);
    viewer.backlog(merged, ended);
    live = true;
    return { ended, unsubscribe: () => void log.listeners.delete(relay) };
  }

  close(): void {
    this.unsubscribeBus();
    this.logs.clear();
  }

  private logOf(callSid: string): Log {
    let log = this.logs.get(callSid);
    if (!log) {
      log = { events: [], listeners: new Set(), ended: false, complete: false };
      this.logs.set(callSid, log);
    }
    return log;
  }

  private onEvent(e: CallEvent): void {
    const known = this.logs.has(e.callSid);
    const log = this.logOf(e.callSid);
    if (!known && e.type === 'call.started') log.complete = true;
    if (log.ended) return;
    // A runaway call must not hold unbounded memory: the oldest events go first (history keeps them all).
    if (log.events.length >= (this.options.maxEventsPerCall ?? 5000)) log.events.shift();
    log.events.push(e);
    for (const l of log.listeners) {
      try {
        l(e);
      } catch {
        /* a failing viewer must not break the others */
      }
    }
    if (e.type === 'call.ended') this.markEnded(e.callSid, log);
  }

  private markEnded(callSid: string, log: Log): void {
    log.ended = true;
    log.listeners.clear();
    this.endedOrder.push(callSid);
    while (this.endedOrder.length > (this.options.keepEnded ?? 200)) this.logs.delete(this.endedOrder.shift()!);
  }
}
