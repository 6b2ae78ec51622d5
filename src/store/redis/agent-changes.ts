import { notifyAll, type AgentChange, type AgentChanges } from '../../agents/changes.js';
import type { Logger } from '../../core/logger.js';
import type { RedisConnection } from './connection.js';

/**
 * Agent changes across processes. `publish` bumps the shared generation, tells
 * this process's caches at once, then every other process over pub/sub. Lookups
 * compare the generation before trusting a cached entry, so a deactivation
 * through one process changes routing on all of them for the very next call,
 * whether or not the pub/sub message has been read yet.
 */
export class RedisAgentChanges implements AgentChanges {
  private readonly listeners = new Set<(change: AgentChange) => void>();
  private unsubscribe: (() => Promise<void>) | undefined;

  private constructor(
    private readonly redis: RedisConnection,
    private readonly logger: Logger,
  ) {}

  static async open(redis: RedisConnection, logger: Logger): Promise<RedisAgentChanges> {
    const changes = new RedisAgentChanges(redis, logger);
    changes.unsubscribe = await redis.subscribe(redis.keys.agentChangesChannel(), (message) => changes.onMessage(message));
    return changes;
  }

  async publish(change: AgentChange): Promise<void> {
    const { command, keys, processId } = this.redis;
    notifyAll(this.listeners, change);
    await command
      .multi()
      .incr(keys.agentGeneration())
      .publish(keys.agentChangesChannel(), JSON.stringify({ from: processId, change }))
      .exec();
  }

  subscribe(listener: (change: AgentChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async generation(): Promise<number> {
    try {
      return Number((await this.redis.command.get(this.redis.keys.agentGeneration())) ?? 0);
    } catch (err) {
      // Redis unreachable: answer from the database every time rather than risk a stale route.
      this.logger.warn({ err: { message: (err as Error).message } }, 'agent generation unknown; lookups skip the cache');
      return Number.NaN;
    }
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
    this.listeners.clear();
  }

  private onMessage(message: string): void {
    let parsed: { from?: string; change?: AgentChange };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    // This process already told its own listeners when it published.
    if (parsed.from === this.redis.processId || !parsed.change) return;
    notifyAll(this.listeners, parsed.change);
  }
}
