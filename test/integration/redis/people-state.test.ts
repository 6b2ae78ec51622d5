import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { InMemoryLoginThrottle, LOGIN_MAX_FAILURES, LOGIN_WINDOW_MS, loginKeys, type LoginThrottle } from '../../../src/handoff/login-throttle.js';
import { RedisCallHolders } from '../../../src/store/redis/call-holders.js';
import { RedisLoginThrottle } from '../../../src/store/redis/login-throttle.js';
import { RedisPresence } from '../../../src/store/redis/presence.js';
import type { RedisConnection } from '../../../src/store/redis/connection.js';
import { redisFixture } from './redis-test.js';

/** Presence and the sign-in throttle shared by processes, against the real Redis (own prefix per run). */
let fixture = redisFixture();
afterEach(async () => {
  await fixture.cleanup();
  fixture = redisFixture();
});

describe('the sign-in throttle, in memory and in Redis alike', () => {
  const backends: [string, () => Promise<LoginThrottle[]>][] = [
    ['memory', async () => {
      const one = new InMemoryLoginThrottle();
      return [one, one];
    }],
    ['redis (two processes)', async () => [new RedisLoginThrottle(await fixture.connect()), new RedisLoginThrottle(await fixture.connect())]],
  ];

  it.each(backends)('%s: the 10th failure in 15 minutes locks the username and the address until the oldest leaves the window', async (_name, make) => {
    const [a, b] = await make();
    const keys = loginKeys('Ann', '10.0.0.1');
    let now = 1_000_000;
    for (let i = 0; i < LOGIN_MAX_FAILURES - 1; i++) {
      await (i % 2 ? a! : b!).recordFailure(keys, now);
      now += 1_000;
    }
    expect(await a!.retryAfterMs(keys, now)).toBe(0);
    await b!.recordFailure(keys, now);
    // The other process sees the lock too, for the username from another address.
    expect(await a!.retryAfterMs(loginKeys('ann', '10.9.9.9'), now)).toBe(LOGIN_WINDOW_MS - (LOGIN_MAX_FAILURES - 1) * 1_000);
    expect(await a!.retryAfterMs(loginKeys('bob', '10.9.9.9'), now)).toBe(0);
    expect(await a!.retryAfterMs(keys, 1_000_000 + LOGIN_WINDOW_MS + 1)).toBe(0);
  });
});

describe('presence in Redis', () => {
  async function node(redis: RedisConnection, clock: ManualClock) {
    const holders = new RedisCallHolders(redis);
    await holders.beat(clock.wallNow());
    return { redis, holders, presence: new RedisPresence({ redis, processes: holders, clock, heartbeatTimeoutMs: 3_000 }) };
  }

  it('counts sockets on every beating process, and forgets those of a process that stopped', async () => {
    const clock = new ManualClock();
    const a = await node(await fixture.connect(), clock);
    const b = await node(await fixture.connect(), clock);
    await a.presence.connect('s1', 'c1');
    await b.presence.connect('s2', 'c2');
    await b.presence.connect('s1', 'c3');
    expect((await a.presence.onlineIds()).sort()).toEqual(['s1', 's2']);
    await b.presence.disconnect('s1', 'c3');
    expect(await b.presence.isOnline('s1')).toBe(true);
    await a.presence.disconnect('s1', 'c1');
    expect(await b.presence.isOnline('s1')).toBe(false);
    // b stops beating: its people are offline for everyone else.
    await clock.advance(4_000);
    await a.holders.beat(clock.wallNow());
    expect(await a.presence.onlineIds()).toEqual([]);
  });
});
