import type { CallEvent, CallEventBus } from './events.js';

/**
 * The events of calls in progress, kept per call so a live-feed viewer who
 * joins late first gets everything so far, then each new event, with nothing
 * lost or repeated between the two (both happen synchronously here). Ended
 * calls keep their log for a while (the newest `keepEnded`); older ones are
 * read from SQL history instead. With several processes, this reads the bus of
 * its own process (a Redis bridge publishes other processes' events on it).
 */
export type FeedListener = (event: CallEvent) => void;

interface Log {
  events: CallEvent[];
  listeners: Set<FeedListener>;
  ended: boolean;
}

export interface FeedSubscription {
  /** Every event of the call so far, oldest first. */
  backlog: CallEvent[];
  /** The call has ended: nothing more will come. */
  ended: boolean;
  unsubscribe(): void;
}

export class LiveCallFeed {
  private readonly logs = new Map<string, Log>();
  private readonly endedOrder: string[] = [];
  private readonly unsubscribeBus: () => void;

  constructor(
    bus: CallEventBus,
    private readonly options: { maxEventsPerCall?: number; keepEnded?: number } = {},
  ) {
    this.unsubscribeBus = bus.subscribe((e) => this.onEvent(e));
  }

  /** Whether this feed has the call (in progress, or ended recently). */
  has(callSid: string): boolean {
    return this.logs.has(callSid);
  }

  /** The backlog and, until the call ends, every new event to `listener`; undefined when the call is not known here. */
  subscribe(callSid: string, listener: FeedListener): FeedSubscription | undefined {
    const log = this.logs.get(callSid);
    if (!log) return undefined;
    if (!log.ended) log.listeners.add(listener);
    return { backlog: [...log.events], ended: log.ended, unsubscribe: () => void log.listeners.delete(listener) };
  }

  close(): void {
    this.unsubscribeBus();
    this.logs.clear();
  }

  private onEvent(e: CallEvent): void {
    let log = this.logs.get(e.callSid);
    if (!log) {
      log = { events: [], listeners: new Set(), ended: false };
      this.logs.set(e.callSid, log);
    }
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
    if (e.type === 'call.ended') {
      log.ended = true;
      log.listeners.clear();
      this.endedOrder.push(e.callSid);
      while (this.endedOrder.length > (this.options.keepEnded ?? 200)) this.logs.delete(this.endedOrder.shift()!);
    }
  }
}
