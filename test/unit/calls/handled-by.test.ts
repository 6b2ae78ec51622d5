import { describe, expect, it } from 'vitest';
import { Calls } from '../../../src/calls/calls.js';
import { MemoryCallEventBus } from '../../../src/calls/events.js';
import { MemoryCallRepository } from '../../../src/calls/repository.js';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';

/** Invariant: the record keeps every person who handled the call, in order, once per handover (usage and assignee read it). */
describe('handledBy', () => {
  it('appends a person each time one takes the call, not when the AI does or the same person stays', async () => {
    const calls = new Calls(new MemoryCallRepository(), new MemoryCallEventBus(), new ManualClock(), silentLogger);
    await calls.open({ callSid: 'CA1', accountSid: 'AC1', agentId: 'a1', slug: 's', version: 1, from: '+15550001111', to: '+15550100002', direction: 'inbound' });
    expect((await calls.get('CA1'))?.handledBy).toBeUndefined();
    await calls.setHandler('CA1', { kind: 'person', staffId: 'stf_a' });
    await calls.setHandler('CA1', { kind: 'person', staffId: 'stf_a' });
    await calls.setHandler('CA1', undefined);
    await calls.setHandler('CA1', { kind: 'person', staffId: 'stf_b' });
    await calls.setHandler('CA1', { kind: 'ai', agentId: 'a2', version: 4 });
    expect((await calls.get('CA1'))?.handledBy).toEqual(['stf_a', 'stf_b']);
  });
});
