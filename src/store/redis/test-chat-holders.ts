import type { TestChatHolders } from '../../agents/test-chat-routing.js';
import type { RedisConnection } from './connection.js';

/** Test chat → the process holding its interpreter, a key that expires when the chat idles out. */
export class RedisTestChatHolders implements TestChatHolders {
  constructor(private readonly redis: RedisConnection) {}

  async hold(sessionId: string, processId: string, ttlMs: number): Promise<void> {
    await this.redis.command.set(this.redis.keys.testChat(sessionId), processId, 'PX', Math.max(1, Math.round(ttlMs)));
  }

  async holderOf(sessionId: string): Promise<string | undefined> {
    return (await this.redis.command.get(this.redis.keys.testChat(sessionId))) ?? undefined;
  }

  async release(sessionId: string): Promise<void> {
    await this.redis.command.del(this.redis.keys.testChat(sessionId));
  }
}
