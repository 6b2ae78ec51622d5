import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisConnection } from '../../../src/store/redis/connection.js';
import { silentLogger } from '../../../src/core/logger.js';

/** The real Redis the tests use; each test run gets its own key prefix and removes its keys afterwards. */
export const TEST_REDIS_URL = 'redis://127.0.0.1:6379';

export function uniquePrefix(): string {
  return `test-${process.pid}-${randomBytes(4).toString('hex')}:`;
}

/** Connections opened by a test, all on one prefix; `cleanup` closes them and deletes the prefix's keys. */
export function redisFixture(prefix = uniquePrefix()) {
  const opened: RedisConnection[] = [];
  return {
    prefix,
    async connect(): Promise<RedisConnection> {
      const c = new RedisConnection(TEST_REDIS_URL, prefix, silentLogger);
      await c.connect();
      opened.push(c);
      return c;
    },
    /** Keys under the prefix now. */
    async keys(): Promise<string[]> {
      const r = new Redis(TEST_REDIS_URL);
      try {
        return await r.keys(`${prefix}*`);
      } finally {
        r.disconnect();
      }
    },
    async cleanup(): Promise<void> {
      await Promise.all(opened.map((c) => c.close()));
      await deletePrefix(prefix);
    },
  };
}

export async function deletePrefix(prefix: string): Promise<void> {
  const r = new Redis(TEST_REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
