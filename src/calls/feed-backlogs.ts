import type { ControlBus } from '../core/control-bus.js';
import type { CallEvent } from './events.js';
import type { CallHolders } from './holders.js';
import type { FeedBacklog, LiveCallFeed } from './live-feed.js';

/**
 * Where a live-feed viewer's backlog comes from when this process did not hear
 * the call from its start (docs/architecture.md#several-processes): the feed of
 * the process holding the call, which heard every event of it as it happened;
 * failing that (holder gone, or it too joined late), the SQL history, which may
 * lag the holder by its write batch.
 */
export const FEED_BACKLOG_TOPIC = 'call-feed:backlog';

/** Answers other processes' backlog requests from this process's feed. Returns the unregister function. */
export function serveFeedBacklogs(bus: ControlBus, feed: LiveCallFeed): () => void {
  return bus.handle(FEED_BACKLOG_TOPIC, async (payload) => feed.backlogOf((payload as { callSid: string }).callSid) ?? null);
}

export interface FeedBacklogDeps {
  bus: ControlBus;
  holders: Pick<CallHolders, 'holderOf'>;
  history: { flush(): Promise<void>; events(callSid: string): Promise<CallEvent[]> };
}

export function feedBacklogSource(deps: FeedBacklogDeps): (callSid: string) => Promise<FeedBacklog> {
  return async (callSid) => {
    const holder = await deps.holders.holderOf(callSid).catch(() => undefined);
    if (holder !== undefined && holder !== deps.bus.processId) {
      try {
        const reply = (await deps.bus.request(holder, FEED_BACKLOG_TOPIC, { callSid })) as FeedBacklog | null;
        if (reply) return reply;
      } catch {
        /* the holder is gone or silent: history below */
      }
    }
    await deps.history.flush();
    const events = await deps.history.events(callSid);
    return { events, ended: events.some((e) => e.type === 'call.ended') };
  };
}
