import { describe, expect, it } from 'vitest';
import { newCallRecord } from '../../../src/calls/call-record.js';
import { MemoryCallRepository } from '../../../src/calls/repository.js';

const record = (n: number) =>
  newCallRecord({
    callSid: `CA${n}`,
    accountSid: 'AC1',
    agentId: 'a1',
    slug: 'pizza',
    version: 1,
    from: '+15550100100',
    to: '+15550100002',
    direction: 'inbound',
    nowMs: n,
  });

describe('MemoryCallRepository', () => {
  it('keeps memory flat: ended calls beyond the limit are evicted oldest first, live calls never', async () => {
    const repo = new MemoryCallRepository(2);
    for (let i = 1; i <= 5; i++) await repo.createIfAbsent(record(i));
    for (const i of [1, 2, 3]) await repo.update(`CA${i}`, (r) => void (r.state = 'ended'));
    expect(await repo.get('CA1')).toBeUndefined();
    expect((await repo.get('CA2'))?.state).toBe('ended');
    expect((await repo.get('CA3'))?.state).toBe('ended');
    expect((await repo.get('CA4'))?.state).toBe('connecting');
    expect(repo.size).toBe(4);
  });

  it('lists the calls in progress only, unless asked for the recently ended ones too', async () => {
    const repo = new MemoryCallRepository();
    for (let i = 1; i <= 3; i++) await repo.createIfAbsent(record(i));
    await repo.update('CA2', (r) => void (r.state = 'ended'));
    expect((await repo.list()).map((r) => r.callSid)).toEqual(['CA1', 'CA3']);
    expect((await repo.list({ includeEnded: true })).map((r) => r.callSid)).toEqual(['CA1', 'CA2', 'CA3']);
  });

  it('reads are copies: changing one does not change the stored record', async () => {
    const repo = new MemoryCallRepository();
    await repo.createIfAbsent(record(1));
    const copy = await repo.get('CA1');
    copy!.state = 'ended';
    expect((await repo.get('CA1'))?.state).toBe('connecting');
  });

  it('createIfAbsent is idempotent per CallSid', async () => {
    const repo = new MemoryCallRepository();
    expect((await repo.createIfAbsent(record(1))).created).toBe(true);
    const again = await repo.createIfAbsent({ ...record(1), slug: 'other' });
    expect(again.created).toBe(false);
    expect(again.record.slug).toBe('pizza');
  });
});
