import type { Clock } from '../../core/clock.js';
import type { PresenceStore } from '../../handoff/presence.js';
import type { RedisCallHolders } from './call-holders.js';
import type { RedisConnection } from './connection.js';

/**
 * Presence across processes (docs/people.md#presence-and-the-workspace-socket):
 * each process keeps a hash of the workspace sockets open on it (connection →
 * person). Only processes that are beating count, so the people connected to a
 * process that died go offline with it; its hash is deleted when it is claimed.
 */
export class RedisPresence implements PresenceStore {
  constructor(
    private readonly deps: {
      redis: RedisConnection;
      processes: Pick<RedisCallHolders, 'liveProcesses'>;
      clock: Clock;
      heartbeatTimeoutMs: number;
    },
  ) {}

  async connect(staffId: string, connectionId: string): Promise<void> {
    const { redis } = this.deps;
    await redis.command.hset(redis.keys.processPresence(redis.processId), connectionId, staffId);
  }

  async disconnect(_staffId: string, connectionId: string): Promise<void> {
    const { redis } = this.deps;
    await redis.command.hdel(redis.keys.processPresence(redis.processId), connectionId);
  }

  async onlineIds(): Promise<string[]> {
    const { redis, processes, clock, heartbeatTimeoutMs } = this.deps;
    const live = new Set(await processes.liveProcesses(clock.wallNow() - heartbeatTimeoutMs));
    live.add(redis.processId);
    const pipeline = redis.command.pipeline();
    for (const id of live) pipeline.hvals(redis.keys.processPresence(id));
    const results = (await pipeline.exec()) ?? [];
    const online = new Set<string>();
    for (const [err, ids] of results) if (!err && Array.isArray(ids)) for (const id of ids as string[]) online.add(id);
    return [...online];
  }

  async isOnline(staffId: string): Promise<boolean> {
    return (await this.onlineIds()).includes(staffId);
  }
}
