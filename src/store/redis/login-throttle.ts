import { randomBytes } from 'node:crypto';
import { LOGIN_MAX_FAILURES, LOGIN_WINDOW_MS, type LoginThrottle } from '../../handoff/login-throttle.js';
import type { RedisConnection } from './connection.js';

/**
 * The sign-in throttle shared by every process (docs/people.md): failures per
 * username and per IP address in a sorted set each (scored by time), trimmed to
 * the window and to the last `max`, expiring with the window. A guesser
 * spreading attempts over processes meets the same count.
 */
export class RedisLoginThrottle implements LoginThrottle {
  constructor(
    private readonly redis: RedisConnection,
    private readonly max = LOGIN_MAX_FAILURES,
    private readonly windowMs = LOGIN_WINDOW_MS,
  ) {}

  async retryAfterMs(keys: readonly string[], nowMs: number): Promise<number> {
    const pipeline = this.redis.command.pipeline();
    for (const key of keys) {
      const k = this.redis.keys.loginFailures(key);
      pipeline.zremrangebyscore(k, '-inf', nowMs - this.windowMs);
      // The max-th most recent failure decides when the next attempt may go.
      pipeline.zrevrange(k, this.max - 1, this.max - 1, 'WITHSCORES');
    }
    const results = (await pipeline.exec()) ?? [];
    let wait = 0;
    for (let i = 1; i < results.length; i += 2) {
      const [err, entry] = results[i]!;
      if (err || !Array.isArray(entry) || entry.length < 2) continue;
      wait = Math.max(wait, Number(entry[1]) + this.windowMs - nowMs);
    }
    return wait;
  }

  async recordFailure(keys: readonly string[], nowMs: number): Promise<void> {
    const multi = this.redis.command.multi();
    for (const key of keys) {
      const k = this.redis.keys.loginFailures(key);
      multi.zadd(k, nowMs, `${nowMs}-${randomBytes(4).toString('hex')}`);
      multi.zremrangebyscore(k, '-inf', nowMs - this.windowMs);
      // Only the last `max` failures decide anything.
      multi.zremrangebyrank(k, 0, -(this.max + 1));
      multi.pexpire(k, this.windowMs);
    }
    await multi.exec();
  }
}
