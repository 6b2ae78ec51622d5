import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { onDemand } from '../../core/on-demand.js';
import type { Logger } from '../../core/logger.js';
import { RedisKeys } from './keys.js';

/**
 * One process's link to Redis: a client for commands and one for subscriptions
 * (a subscribed connection can do nothing else), the key builder, and this
 * process's id. Channel messages are dispatched to handlers by channel, so every
 * part of the process shares the one subscriber.
 */

/** Errors while Redis is unreachable are logged at most this often (ioredis retries by itself). */
const ERROR_LOG_INTERVAL_MS = 5_000;
/** Reconnect attempts back off to one a second: a Redis back after an outage is found within that. */
const RECONNECT_MAX_DELAY_MS = 1_000;
/** A command unanswered this long fails (Redis hung, or the network dropping packets): a call waits at most this once. */
const COMMAND_TIMEOUT_MS = 2_000;

/** ioredis is loaded only when a connection is made (REDIS_URL set), not at start (docs/architecture.md#memory). */
const ioredis = onDemand<typeof import('ioredis')>('ioredis');

export type ChannelHandler = (message: string) => void;

export class RedisConnection {
  readonly command: Redis;
  readonly subscriber: Redis;
  readonly keys: RedisKeys;
  /** Unique per process start: host, pid and a random part (a restarted pid is a new process). */
  readonly processId: string;
  private readonly handlers = new Map<string, Set<ChannelHandler>>();
  private lastErrorLogMs = 0;

  constructor(
    url: string,
    prefix: string,
    private readonly logger: Logger,
  ) {
    this.keys = new RedisKeys(prefix);
    this.processId = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
    const options = {
      lazyConnect: true,
      maxRetriesPerRequest: 3,
      connectionName: `var-${this.processId}`,
      retryStrategy: (times: number) => Math.min(times * 100, RECONNECT_MAX_DELAY_MS),
    };
    // Commands fail at once while Redis is unreachable instead of queueing through reconnects, and
    // those under way when the connection drops fail with it instead of waiting to be resent; a Redis
    // that stops answering without closing fails them after COMMAND_TIMEOUT_MS. Live calls must
    // not wait on it (src/calls/fail-soft-repository.ts serves them meanwhile).
    const { Redis } = ioredis();
    this.command = new Redis(url, { ...options, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: COMMAND_TIMEOUT_MS });
    this.subscriber = new Redis(url, options);
    for (const client of [this.command, this.subscriber]) client.on('error', (err: Error) => this.logError(err));
    this.subscriber.on('message', (channel: string, message: string) => {
      for (const h of this.handlers.get(channel) ?? []) {
        try {
          h(message);
        } catch (err) {
          this.logger.error({ err, channel }, 'a Redis channel handler failed');
        }
      }
    });
  }

  /** Connects both clients; a start fails here, naming REDIS_URL, when Redis cannot be reached. */
  async connect(): Promise<void> {
    try {
      await Promise.all([this.command.connect(), this.subscriber.connect()]);
    } catch (err) {
      this.command.disconnect();
      this.subscriber.disconnect();
      throw new Error(`REDIS_URL: cannot connect to Redis: ${(err as Error).message}`);
    }
  }

  /** Adds a handler for a channel; resolves once Redis confirms the subscription. Returns the unsubscribe. */
  async subscribe(channel: string, handler: ChannelHandler): Promise<() => Promise<void>> {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      await this.subscriber.subscribe(channel);
    }
    set.add(handler);
    return async () => {
      const s = this.handlers.get(channel);
      if (!s?.delete(handler) || s.size > 0) return;
      this.handlers.delete(channel);
      if (this.subscriber.status === 'ready') await this.subscriber.unsubscribe(channel);
    };
  }

  async close(): Promise<void> {
    this.handlers.clear();
    await Promise.allSettled([this.subscriber.quit(), this.command.quit()]);
  }

  private logError(err: Error): void {
    const now = Date.now();
    if (now - this.lastErrorLogMs < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorLogMs = now;
    this.logger.error({ err: { message: err.message } }, 'Redis connection error');
  }
}
