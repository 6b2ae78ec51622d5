import { describe, expect, it } from 'vitest';
import { MemoryCallEventBus } from '../../../src/calls/events.js';
import { silentLogger } from '../../../src/core/logger.js';
import { WorkspaceFeed } from '../../../src/handoff/workspace-feed.js';

/**
 * Invariant: the workspace list of calls is built only when someone is connected to receive it;
 * with nobody watching, call changes cost no listing (it copies every live call record).
 */
describe('WorkspaceFeed', () => {
  const setup = (connected: string[]) => {
    const bus = new MemoryCallEventBus();
    const pushed: unknown[] = [];
    let listings = 0;
    const feed = new WorkspaceFeed({
      hub: { connectedStaffIds: () => connected, push: (staffId: string, message: unknown) => void pushed.push({ staffId, message }) } as never,
      bus,
      liveCalls: async () => {
        listings++;
        return [];
      },
      staff: { get: async (id) => ({ id, role: 'agent' }) as never },
      logger: silentLogger,
    });
    return { bus, feed, pushed, listings: () => listings };
  };
  const started = { type: 'call.started', callSid: 'CA1', at: 0 } as never;

  it('lists nothing while nobody is connected', async () => {
    const s = setup([]);
    for (let i = 0; i < 100; i++) s.bus.publish(started);
    await new Promise((r) => setImmediate(r));
    expect(s.listings()).toBe(0);
    s.feed.close();
  });

  it('with someone connected, coalesces a burst of changes into few listings and pushes to them', async () => {
    const s = setup(['st_1']);
    for (let i = 0; i < 100; i++) s.bus.publish(started);
    await expect.poll(() => s.pushed.length).toBeGreaterThan(0);
    expect(s.listings()).toBeGreaterThan(0);
    expect(s.listings()).toBeLessThanOrEqual(2);
    s.feed.close();
  });
});
