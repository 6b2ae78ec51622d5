import { describe, expect, it } from 'vitest';
import type { CallRecord } from '../../../src/calls/call-record.js';
import { Calls } from '../../../src/calls/calls.js';
import { MemoryCallEventBus } from '../../../src/calls/events.js';
import { FailSoftCallHolders } from '../../../src/calls/fail-soft-holders.js';
import { FailSoftCallRepository, REPLAY_INTERVAL_MS } from '../../../src/calls/fail-soft-repository.js';
import type { CallHolders } from '../../../src/calls/holders.js';
import { ProcessWatch, type ProcessRegistry } from '../../../src/calls/process-watch.js';
import { MemoryCallRepository, type CallRepository } from '../../../src/calls/repository.js';
import { SharedStateHealth } from '../../../src/calls/shared-state-health.js';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';

/**
 * The live state's fail-soft layer (src/calls/fail-soft-*.ts) against stores that can be
 * switched off, as Redis is when it goes away; the whole call over a real Redis is in
 * test/scenarios/redis-outage.test.ts.
 */
class Outage {
  down = false;
  check(): void {
    if (this.down) throw new Error('Connection is closed.');
  }
}

/** A shared store (another process's view included) that refuses everything while down. */
class FlakyRepository implements CallRepository {
  /** Replaced by an empty one to play a Redis restarted without its data. */
  store = new MemoryCallRepository();
  constructor(private readonly outage: Outage) {}
  async createIfAbsent(record: CallRecord) {
    this.outage.check();
    return this.store.createIfAbsent(record);
  }
  async get(callSid: string) {
    this.outage.check();
    return this.store.get(callSid);
  }
  async peek(callSid: string) {
    this.outage.check();
    return this.store.peek(callSid);
  }
  async update(callSid: string, change: (r: CallRecord) => void) {
    this.outage.check();
    return this.store.update(callSid, change);
  }
  async list() {
    this.outage.check();
    return this.store.list();
  }
}

class FlakyHolders implements CallHolders, ProcessRegistry {
  readonly processId = 'p1';
  readonly holders = new Map<string, string>();
  beats: number[] = [];
  constructor(private readonly outage: Outage) {}
  async hold(callSid: string) {
    this.outage.check();
    this.holders.set(callSid, this.processId);
  }
  async release(callSid: string) {
    this.outage.check();
    this.holders.delete(callSid);
  }
  async holderOf(callSid: string) {
    this.outage.check();
    return this.holders.get(callSid);
  }
  async beat(nowMs: number) {
    this.outage.check();
    this.beats.push(nowMs);
  }
  deadOnes: string[] = [];
  async deadProcesses() {
    this.outage.check();
    return this.deadOnes;
  }
  claimed: string[] = [];
  async claimDead(processId: string) {
    this.outage.check();
    this.claimed.push(processId);
    return [];
  }
  async leave() {}
}

function rig() {
  const clock = new ManualClock();
  const outage = new Outage();
  const health = new SharedStateHealth(silentLogger, () => clock.wallNow());
  const flaky = new FlakyRepository(outage);
  const repository = new FailSoftCallRepository(flaky, { health, clock, logger: silentLogger });
  const sharedHolders = new FlakyHolders(outage);
  const holders = new FailSoftCallHolders(sharedHolders, { health, logger: silentLogger });
  const calls = new Calls(repository, new MemoryCallEventBus(), clock, silentLogger, holders);
  return { clock, outage, health, flaky, repository, sharedHolders, holders, calls };
}

const open = (calls: Calls, callSid = 'CA1') =>
  calls.open({ callSid, accountSid: 'AC1', agentId: 'ag1', slug: 'pizza', version: 1, from: '+15550001111', to: '+15550100002', direction: 'inbound' });

describe('live call records while the shared store is down', () => {
  it('a call goes on from this process’s copy while the store fails; its changes are written in order, through compare-and-set, when it answers', async () => {
    const r = rig();
    await open(r.calls);
    await r.calls.streamStarted('CA1', 'MZ1');
    r.outage.down = true;
    await r.calls.addTurn('CA1', { role: 'agent', text: 'Hello.', at: 1 });
    await r.calls.bumpMetrics('CA1', { bargeIns: 1 });
    // Another process changed the call before the outage ended: its change must survive ours.
    await r.flaky.store.update('CA1', (x) => void (x.answeredBy = 'human'));
    expect(await r.calls.end('CA1', 'caller_hangup')).toBe(true);
    // Read back from the copy: ended, with everything.
    expect(await r.calls.get('CA1')).toMatchObject({ state: 'ended', turns: [{ text: 'Hello.' }], metrics: { bargeIns: 1 } });
    expect(r.health.failing).toBe(true);
    expect(r.repository.backlog).toBe(3);
    expect((await r.flaky.store.get('CA1'))!.state).toBe('ai');
    // Still down: the timer's replay fails quietly and keeps the changes.
    await r.clock.advance(REPLAY_INTERVAL_MS);
    expect(r.repository.backlog).toBe(3);
    r.outage.down = false;
    await r.clock.advance(REPLAY_INTERVAL_MS);
    await r.repository.replay();
    expect(r.repository.backlog).toBe(0);
    expect(r.health.failing).toBe(false);
    expect(await r.flaky.store.get('CA1')).toMatchObject({
      state: 'ended',
      outcome: { kind: 'completed', detail: 'caller_hangup' },
      turns: [{ text: 'Hello.' }],
      metrics: { bargeIns: 1 },
      answeredBy: 'human',
    });
    // The release that failed during the outage is written on recovery.
    await r.clock.advance(0);
    expect(r.sharedHolders.holders.has('CA1')).toBe(false);
  });

  it('a store that comes back empty gets the call back from the copy, and the holder written again', async () => {
    const r = rig();
    await open(r.calls);
    await r.calls.streamStarted('CA1', 'MZ1');
    r.outage.down = true;
    await r.calls.addTurn('CA1', { role: 'caller', text: '2', at: 1 });
    // Redis restarted without its data.
    r.flaky.store = new MemoryCallRepository();
    r.sharedHolders.holders.clear();
    r.outage.down = false;
    await r.repository.replay();
    await r.holders.resync();
    expect(await r.flaky.store.get('CA1')).toMatchObject({ state: 'ai', turns: [{ text: '2' }] });
    expect(r.sharedHolders.holders.get('CA1')).toBe('p1');
    // A change with nothing queued also writes back a record the store lost.
    r.flaky.store = new MemoryCallRepository();
    expect(await r.calls.signal('CA1', 'transfer_requested')).toBe(true);
    expect((await r.flaky.store.get('CA1'))!.state).toBe('transferring');
  });

  it('a call another process took meanwhile is not taken back at the re-sync', async () => {
    const r = rig();
    await open(r.calls);
    r.sharedHolders.holders.set('CA1', 'p2');
    await r.holders.resync();
    expect(r.sharedHolders.holders.get('CA1')).toBe('p2');
  });

  it('a write under way when the store goes away that gets through reaches the copy too; a read never replaces a newer copy', async () => {
    const r = rig();
    await open(r.calls);
    await r.calls.streamStarted('CA1', 'MZ1');
    // A write is under way (its answer held back) when the store goes away.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const update = r.flaky.update.bind(r.flaky);
    r.flaky.update = async (sid, change) => {
      await held;
      return update(sid, change);
    };
    const inFlight = r.calls.addTurn('CA1', { role: 'agent', text: 'Menu.', at: 1 });
    r.outage.down = true;
    r.flaky.update = update;
    await r.calls.addTurn('CA1', { role: 'caller', text: '2', at: 2 });
    // It got through after all: the store has it, and so must the copy the call is served from.
    r.outage.down = false;
    release();
    await inFlight;
    r.outage.down = true;
    expect((await r.calls.get('CA1'))!.turns.map((t) => t.text).sort()).toEqual(['2', 'Menu.']);
    r.outage.down = false;
    await r.repository.replay();
    expect((await r.flaky.store.get('CA1'))!.turns.map((t) => t.text)).toEqual(['Menu.', '2']);

    // A read that started before a write finished comes back older than the copy: the copy stays.
    let releaseRead!: () => void;
    const readHeld = new Promise<void>((resolve) => (releaseRead = resolve));
    const get = r.flaky.get.bind(r.flaky);
    r.flaky.get = async (sid) => {
      const before = await get(sid);
      await readHeld;
      return before;
    };
    const staleRead = r.calls.get('CA1');
    await r.calls.addTurn('CA1', { role: 'agent', text: 'How many?', at: 3 });
    releaseRead();
    await staleRead;
    r.flaky.get = get;
    r.outage.down = true;
    expect((await r.calls.get('CA1'))!.turns.map((t) => t.text)).toEqual(['Menu.', '2', 'How many?']);
  });

  it('with neither the store nor a copy, the failure is the caller’s to see', async () => {
    const r = rig();
    r.outage.down = true;
    await expect(r.calls.get('CA-unknown')).rejects.toThrow('Connection is closed.');
    await expect(open(r.calls)).rejects.toThrow('Connection is closed.');
  });
});

describe('heartbeats after the shared store was down', () => {
  it('after a failed heartbeat, other processes are judged again only once this one has beaten for a whole timeout', async () => {
    const clock = new ManualClock();
    const outage = new Outage();
    const registry = new FlakyHolders(outage);
    registry.deadOnes = ['p2'];
    const watch = new ProcessWatch({ registry, calls: { endLost: async () => true }, clock, logger: silentLogger, timeoutMs: 15_000 });
    await watch.tick();
    expect(registry.claimed).toEqual(['p2']);
    registry.claimed = [];
    outage.down = true;
    await expect(watch.tick()).rejects.toThrow();
    outage.down = false;
    // Back: every process's last beat is old now; p2 must get its chance to beat first.
    await watch.tick();
    await clock.advance(14_000);
    await watch.tick();
    expect(registry.claimed).toEqual([]);
    await clock.advance(1_000);
    await watch.tick();
    expect(registry.claimed).toEqual(['p2']);
  });

  it('without a failure, the sweep runs on every tick as before', async () => {
    const registry = new FlakyHolders(new Outage());
    registry.deadOnes = ['p2'];
    const watch = new ProcessWatch({ registry, calls: { endLost: async () => true }, clock: new ManualClock(), logger: silentLogger, timeoutMs: 15_000 });
    await watch.tick();
    await watch.tick();
    expect(registry.claimed).toEqual(['p2', 'p2']);
  });
});
