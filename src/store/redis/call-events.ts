import type { CallEvent, CallEventBus, CallEventListener } from '../../calls/events.js';
import type { Logger } from '../../core/logger.js';
import type { RedisConnection } from './connection.js';

/**
 * Call events across processes. `subscribe` hears this process's calls only
 * (the history recorder writes each event once, where it happened);
 * `subscribeAll` also hears every other process's, which is what live feeds and
 * workspace sockets need, since a viewer's socket rarely sits on the process
 * holding the call. Each event is published once to one channel.
 */
export class RedisCallEventBus implements CallEventBus {
  private readonly local = new Set<CallEventListener>();
  private readonly all = new Set<CallEventListener>();
  private unsubscribe: (() => Promise<void>) | undefined;
  /** A relay that did not get through; unset, each is a warning (set, it is counted as Redis trouble, logged once). */
  onPublishFailed: ((err: unknown) => void) | undefined;

  private constructor(
    private readonly redis: RedisConnection,
    private readonly logger: Logger,
  ) {}

  static async open(redis: RedisConnection, logger: Logger): Promise<RedisCallEventBus> {
    const bus = new RedisCallEventBus(redis, logger);
    bus.unsubscribe = await redis.subscribe(redis.keys.callEventsChannel(), (m) => bus.onMessage(m));
    return bus;
  }

  publish(event: CallEvent): void {
    deliver(this.local, event);
    deliver(this.all, event);
    this.redis.command
      .publish(this.redis.keys.callEventsChannel(), JSON.stringify({ from: this.redis.processId, event }))
      .catch((err: unknown) => {
        // The event was delivered here (the recorder, this process's feeds); only other processes miss it.
        if (this.onPublishFailed) this.onPublishFailed(err);
        else this.logger.warn({ err: { message: (err as Error).message } }, 'call event not relayed to other processes');
      });
  }

  subscribe(listener: CallEventListener): () => void {
    this.local.add(listener);
    return () => this.local.delete(listener);
  }

  subscribeAll(listener: CallEventListener): () => void {
    this.all.add(listener);
    return () => this.all.delete(listener);
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
  }

  private onMessage(raw: string): void {
    let parsed: { from?: string; event?: CallEvent };
    try {
      parsed = JSON.parse(raw) as typeof parsed;
    } catch {
      return;
    }
    if (parsed.from === this.redis.processId || !parsed.event) return;
    deliver(this.all, parsed.event);
  }
}

function deliver(listeners: Set<CallEventListener>, event: CallEvent): void {
  for (const l of listeners) {
    // A failing subscriber must not break the call that published.
    try {
      l(event);
    } catch {
      /* ignored on purpose */
    }
  }
}
