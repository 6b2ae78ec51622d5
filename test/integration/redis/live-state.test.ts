import { afterEach, describe, expect, it } from 'vitest';
import { Calls } from '../../../src/calls/calls.js';
import { newCallRecord } from '../../../src/calls/call-record.js';
import { CallCommands } from '../../../src/calls/call-commands.js';
import type { CallEvent } from '../../../src/calls/events.js';
import { ProcessWatch } from '../../../src/calls/process-watch.js';
import { ManualClock, systemClock } from '../../../src/core/clock.js';
import { AppError } from '../../../src/core/errors.js';
import { ProcessUnreachable } from '../../../src/core/control-bus.js';
import { silentLogger } from '../../../src/core/logger.js';
import { RedisAgentChanges } from '../../../src/store/redis/agent-changes.js';
import { RedisCallEventBus } from '../../../src/store/redis/call-events.js';
import { RedisCallHolders } from '../../../src/store/redis/call-holders.js';
import { RedisCallRepository } from '../../../src/store/redis/call-repository.js';
import type { RedisConnection } from '../../../src/store/redis/connection.js';
import { RedisControlBus } from '../../../src/store/redis/control-bus.js';
import { redisFixture } from './redis-test.js';

/**
 * Live state shared by server processes, against the real Redis: each "process"
 * here is a connection of its own (its own process id), on a prefix of this run.
 */
let fixture = redisFixture();
afterEach(async () => {
  await fixture.cleanup();
  expect(await fixture.keys()).toEqual([]);
  fixture = redisFixture();
});

const init = (callSid: string) => ({
  callSid,
  accountSid: 'AC1',
  agentId: 'a1',
  slug: 'clinic',
  version: 1,
  from: '+15550001111',
  to: '+15550100001',
  direction: 'inbound' as const,
});

async function processOn(redis: RedisConnection, clock = new ManualClock()) {
  const holders = new RedisCallHolders(redis);
  const bus = await RedisCallEventBus.open(redis, silentLogger);
  const calls = new Calls(new RedisCallRepository(redis), bus, clock, silentLogger, holders);
  const events: CallEvent[] = [];
  bus.subscribe((e) => events.push(e));
  return { redis, holders, bus, calls, clock, events };
}

describe('call records in Redis', () => {
  it('creates one record per CallSid, whichever process asks first', async () => {
    const a = new RedisCallRepository(await fixture.connect());
    const b = new RedisCallRepository(await fixture.connect());
    const [x, y] = await Promise.all([a.createIfAbsent(newCallRecord({ ...init('CA1'), nowMs: 1 })), b.createIfAbsent(newCallRecord({ ...init('CA1'), version: 9, nowMs: 2 }))]);
    expect([x.created, y.created].sort()).toEqual([false, true]);
    expect((await b.get('CA1'))?.version).toBe(x.created ? 1 : 9);
    expect(await a.get('CA-unknown')).toBeUndefined();
    expect(await a.update('CA-unknown', () => {})).toBeUndefined();
  });

  it('loses no change when processes update one call at the same time (compare-and-set)', async () => {
    const repos = [new RedisCallRepository(await fixture.connect()), new RedisCallRepository(await fixture.connect())];
    await repos[0]!.createIfAbsent(newCallRecord({ ...init('CA2'), nowMs: 1 }));
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        repos[i % 2]!.update('CA2', (r) => {
          r.metrics.framesIn += 1;
          r.turns.push({ role: 'caller', text: `t${i}`, at: i } as never);
        }),
      ),
    );
    const r = await repos[1]!.get('CA2');
    expect(r?.metrics.framesIn).toBe(40);
    expect(r?.turns).toHaveLength(40);
  });
});

describe('call holders and heartbeats', () => {
  it('moves a call to the process its stream starts on, and releases it when it ends', async () => {
    const a = await processOn(await fixture.connect());
    const b = await processOn(await fixture.connect());
    await a.calls.open(init('CA3'));
    expect(await b.holders.holderOf('CA3')).toBe(a.redis.processId);
    await b.calls.streamStarted('CA3', 'MZ1');
    expect(await a.holders.holderOf('CA3')).toBe(b.redis.processId);
    expect(await a.redis.command.smembers(a.redis.keys.processCalls(a.redis.processId))).toEqual([]);
    expect(await a.redis.command.smembers(a.redis.keys.processCalls(b.redis.processId))).toEqual(['CA3']);
    await a.calls.end('CA3', 'status:completed');
    expect(await b.holders.holderOf('CA3')).toBeUndefined();
    expect(await a.redis.command.smembers(a.redis.keys.processCalls(b.redis.processId))).toEqual([]);
  });

  it('ends a dead process’s calls as failed/process_lost within the timeout, once, and leaves the others alone', async () => {
    const clock = new ManualClock();
    const timeoutMs = 3_000;
    const [a, b, c] = [await processOn(await fixture.connect(), clock), await processOn(await fixture.connect(), clock), await processOn(await fixture.connect(), clock)];
    const watch = (p: typeof a) => new ProcessWatch({ registry: p.holders, calls: p.calls, clock, logger: silentLogger, timeoutMs });
    const [wa, wb, wc] = [watch(a), watch(b), watch(c)];
    await Promise.all([wa.start(), wb.start(), wc.start()]);
    for (const sid of ['CA10', 'CA11']) {
      await a.calls.open(init(sid));
      await a.calls.streamStarted(sid, `MZ-${sid}`);
    }
    await b.calls.open(init('CA12'));
    await b.calls.streamStarted('CA12', 'MZ-12');

    // Process a stops beating (killed: no clean leave). b and c keep beating on their own timers.
    wa.halt();
    await clock.advance(timeoutMs - 100);
    expect((await b.calls.get('CA10'))?.state).toBe('ai');

    // Both survivors sweep (on their timers, and once more here); exactly one ends each call.
    await clock.advance(wb.intervalMs + 200);
    await Promise.all([wb.tick(), wc.tick()]);
    for (const sid of ['CA10', 'CA11']) {
      const r = await b.calls.get(sid);
      expect(r?.state).toBe('ended');
      expect(r?.outcome).toEqual({ kind: 'failed', detail: 'process_lost' });
      expect(await b.holders.holderOf(sid)).toBeUndefined();
    }
    const ended = [...b.events, ...c.events].filter((e) => e.type === 'call.ended');
    expect(ended.map((e) => (e as { callSid: string }).callSid).sort()).toEqual(['CA10', 'CA11']);
    expect(ended.every((e) => (e as { reason: string }).reason === 'process_lost')).toBe(true);
    // The survivor's own call is untouched, and the dead process is forgotten.
    expect((await b.calls.get('CA12'))?.state).toBe('ai');
    expect(await b.holders.deadProcesses(clock.wallNow())).not.toContain(a.redis.processId);
    await Promise.all([wb.close(), wc.close()]);
  });

  it('a clean exit with no calls is forgotten at once; a process that beats again is not claimed', async () => {
    const clock = new ManualClock();
    const a = await processOn(await fixture.connect(), clock);
    const b = await processOn(await fixture.connect(), clock);
    await a.holders.beat(clock.wallNow());
    await clock.advance(5_000);
    await a.holders.beat(clock.wallNow());
    expect(await b.holders.claimDead(a.redis.processId, clock.wallNow() - 1_000)).toBeUndefined();
    await a.holders.leave();
    expect(await b.holders.deadProcesses(clock.wallNow())).toEqual([]);
  });
});

describe('control messages between processes', () => {
  it('runs a command on the process holding the call and returns its reply', async () => {
    const [ra, rb] = [await fixture.connect(), await fixture.connect()];
    const [busA, busB] = [await RedisControlBus.open(ra, systemClock, silentLogger), await RedisControlBus.open(rb, systemClock, silentLogger)];
    const holdersA = new RedisCallHolders(ra);
    const holdersB = new RedisCallHolders(rb);
    const commandsA = new CallCommands({ bus: busA, holders: holdersA });
    const commandsB = new CallCommands({ bus: busB, holders: holdersB });
    const stopped: string[] = [];
    commandsB.on('hangup', async (callSid) => {
      stopped.push(callSid);
      return { stopped: true };
    });
    commandsB.on('assume', async () => {
      throw new AppError('CONFLICT', 'the call is with a person already', { state: 'human' });
    });
    await holdersB.hold('CA20');
    expect(await commandsA.send('CA20', 'hangup')).toEqual({ delivered: true, reply: { stopped: true } });
    expect(stopped).toEqual(['CA20']);
    // An AppError crosses with its code, so the API answers as if the call were local.
    const err = await commandsA.send('CA20', 'assume').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'CONFLICT', details: { state: 'human' } });
    expect(await commandsA.send('CA-none', 'hangup')).toEqual({ delivered: false, reason: 'not_held' });
    // A holder that is gone answers at once (nobody subscribed), not after the timeout.
    await busB.close();
    const started = Date.now();
    expect(await commandsA.send('CA20', 'hangup')).toEqual({ delivered: false, reason: 'unreachable' });
    expect(Date.now() - started).toBeLessThan(1_000);
    await expect(busA.request('nobody', 'x', {})).rejects.toBeInstanceOf(ProcessUnreachable);
    await busA.close();
  });

  it('carries agent changes to every process and bumps the shared generation', async () => {
    const [a, b] = [await RedisAgentChanges.open(await fixture.connect(), silentLogger), await RedisAgentChanges.open(await fixture.connect(), silentLogger)];
    const heardA: string[] = [];
    const heardB = new Promise<string>((resolve) => b.subscribe((c) => resolve(`${c.kind}:${c.agentId}`)));
    a.subscribe((c) => heardA.push(c.agentId));
    const before = await b.generation();
    await a.publish({ kind: 'lifecycle', agentId: 'ag1', servedVersion: null });
    // The generation is visible everywhere by the time publish resolves.
    expect(await b.generation()).toBe(before + 1);
    expect(await heardB).toBe('lifecycle:ag1');
    expect(heardA).toEqual(['ag1']);
    await Promise.all([a.close(), b.close()]);
  });

  it('relays call events to other processes’ subscribeAll, never to their recorders', async () => {
    const [a, b] = [await RedisCallEventBus.open(await fixture.connect(), silentLogger), await RedisCallEventBus.open(await fixture.connect(), silentLogger)];
    const local: CallEvent[] = [];
    b.subscribe((e) => local.push(e));
    const all = new Promise<CallEvent>((resolve) => b.subscribeAll(resolve));
    a.publish({ type: 'dtmf', callSid: 'CA30', digit: '5', at: 1 });
    expect(await all).toMatchObject({ type: 'dtmf', callSid: 'CA30', digit: '5' });
    expect(local).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  });
});
