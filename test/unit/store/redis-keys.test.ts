import { describe, expect, it } from 'vitest';
import { RedisKeys } from '../../../src/store/redis/keys.js';

/** Invariant: every key and channel is built in one module, under the configured prefix, and no two collide. */
describe('Redis keys', () => {
  const keys = new RedisKeys('prod-eu:');
  const all = [
    keys.call('CA1'),
    keys.callHolders(),
    keys.processCalls('p1'),
    keys.processes(),
    keys.processChannel('p1'),
    keys.processPresence('p1'),
    keys.agentChangesChannel(),
    keys.agentGeneration(),
    keys.callEventsChannel(),
    keys.staffLiveSessions(),
    keys.staffIdleSince(),
    keys.loginFailures('user:ann'),
    keys.testChat('chat_1'),
  ];

  it('puts every key under the prefix', () => {
    for (const k of all) expect(k.startsWith('prod-eu:'), k).toBe(true);
  });

  it('gives every kind of state its own key', () => {
    expect(new Set(all).size).toBe(all.length);
    expect(keys.call('CA1')).not.toBe(keys.call('CA2'));
    expect(keys.processCalls('p1')).not.toBe(keys.processCalls('p2'));
  });

  it('keeps deployments with different prefixes apart', () => {
    const other = new RedisKeys('prod-us:');
    expect(other.call('CA1')).not.toBe(keys.call('CA1'));
    expect(other.processes()).not.toBe(keys.processes());
  });

  it('refuses an empty prefix', () => {
    expect(() => new RedisKeys('')).toThrow(/prefix/);
  });
});
