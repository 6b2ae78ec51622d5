import { afterEach, describe, expect, it } from 'vitest';
import { CallCommands } from '../../../src/calls/call-commands.js';
import { Calls } from '../../../src/calls/calls.js';
import { InProcessCallHolders } from '../../../src/calls/holders.js';
import { MemoryCallEventBus } from '../../../src/calls/events.js';
import { MemoryCallRepository } from '../../../src/calls/repository.js';
import { ManualClock, systemClock } from '../../../src/core/clock.js';
import { LocalControlBus } from '../../../src/core/control-bus.js';
import { AppError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { LiveCallCommands } from '../../../src/handoff/live-calls.js';
import { LIVE_COMMANDS, RoutedLiveCalls, serveLiveCommands } from '../../../src/handoff/routed-live-calls.js';
import { RedisCallEventBus } from '../../../src/store/redis/call-events.js';
import { RedisCallHolders } from '../../../src/store/redis/call-holders.js';
import { RedisCallRepository } from '../../../src/store/redis/call-repository.js';
import type { RedisConnection } from '../../../src/store/redis/connection.js';
import { RedisControlBus } from '../../../src/store/redis/control-bus.js';
import { redisFixture } from './redis-test.js';

/**
 * Invariant: a command on a live call (assume, transfer-to-AI, hang-up) answers
 * the same whichever process receives it. The process holding the call runs it
 * on its own LiveCallCommands; a command for a call held elsewhere goes there
 * over the control bus and comes back with the holder's result or its AppError
 * code; a call nobody holds is answered from its record (404, 409 CALL_ENDED);
 * a holder that is gone is 503 CALL_NOT_HERE, retryable. Two "processes" here
 * are two connections (two process ids) on the real Redis under this run's prefix.
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

/** What each process's LocalLiveCalls would do, recorded; `refuse` makes the next command throw. */
class RecordingLocal implements LiveCallCommands {
  readonly ran: { command: string; callSid: string; args: unknown }[] = [];
  readonly held = new Set<string>();
  refuse: AppError | undefined;

  holds(callSid: string): boolean {
    return this.held.has(callSid);
  }
  assume(callSid: string, args: { staffId: string; reason?: string }) {
    return this.run('assume', callSid, args);
  }
  transferToAi(callSid: string, args: { agentId: string; by?: string; reason?: string }) {
    return this.run('transferToAi', callSid, args);
  }
  hangUp(callSid: string, args: { by?: string; reason?: string }) {
    return this.run('hangUp', callSid, args);
  }
  private async run(command: string, callSid: string, args: unknown): Promise<void> {
    if (this.refuse) throw this.refuse;
    this.ran.push({ command, callSid, args });
  }
}

async function processOn(redis: RedisConnection) {
  const holders = new RedisCallHolders(redis);
  const bus = await RedisCallEventBus.open(redis, silentLogger);
  const control = await RedisControlBus.open(redis, systemClock, silentLogger);
  const calls = new Calls(new RedisCallRepository(redis), bus, new ManualClock(), silentLogger, holders);
  const commands = new CallCommands({ bus: control, holders });
  const local = new RecordingLocal();
  const unserve = serveLiveCommands(commands, local);
  const live = new RoutedLiveCalls({ local, commands, calls });
  return {
    processId: redis.processId,
    calls,
    commands,
    local,
    live,
    unserve,
    async close() {
      unserve();
      await Promise.all([control.close(), bus.close()]);
    },
  };
}

/** The call opened on `a` (the webhook) and its stream started on `b`: b holds it. */
async function callHeldBy(a: Awaited<ReturnType<typeof processOn>>, b: Awaited<ReturnType<typeof processOn>>, callSid: string) {
  await a.calls.open(init(callSid));
  await b.calls.streamStarted(callSid, `MZ-${callSid}`);
  b.local.held.add(callSid);
}

describe('commands on a live call across processes', () => {
  it('runs each command on the process holding the call, with its arguments, whichever process received it', async () => {
    const a = await processOn(await fixture.connect());
    const b = await processOn(await fixture.connect());
    await callHeldBy(a, b, 'CA1');

    await a.live.assume('CA1', { staffId: 'st1', reason: 'coaching' });
    await a.live.transferToAi('CA1', { agentId: 'clinic', by: 'staff:st1' });
    await a.live.hangUp('CA1', { by: 'api-key:k1', reason: 'done' });
    expect(b.local.ran).toEqual([
      { command: 'assume', callSid: 'CA1', args: { staffId: 'st1', reason: 'coaching' } },
      { command: 'transferToAi', callSid: 'CA1', args: { agentId: 'clinic', by: 'staff:st1' } },
      { command: 'hangUp', callSid: 'CA1', args: { by: 'api-key:k1', reason: 'done' } },
    ]);
    expect(a.local.ran).toEqual([]);
    // The holder itself runs the command here, without the bus.
    await b.live.assume('CA1', { staffId: 'st2' });
    expect(b.local.ran.at(-1)).toEqual({ command: 'assume', callSid: 'CA1', args: { staffId: 'st2' } });
    expect(a.live.holds('CA1')).toBe(false);
    expect(b.live.holds('CA1')).toBe(true);
    await Promise.all([a.close(), b.close()]);
  });

  it('the holder’s refusal comes back with its code, status and details', async () => {
    const a = await processOn(await fixture.connect());
    const b = await processOn(await fixture.connect());
    await callHeldBy(a, b, 'CA2');
    b.local.refuse = new AppError('AGENT_NOT_ACTIVE', 'agent clinic is not active', { agentId: 'a1', state: 'inactive' });
    const err = await a.live.transferToAi('CA2', { agentId: 'clinic' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'AGENT_NOT_ACTIVE', status: 409, details: { agentId: 'a1', state: 'inactive' } });
    b.local.refuse = new AppError('CALL_STATE_CONFLICT', 'a person already has the call');
    await expect(a.live.assume('CA2', { staffId: 'st1' })).rejects.toMatchObject({ code: 'CALL_STATE_CONFLICT', status: 409 });
    await Promise.all([a.close(), b.close()]);
  });

  it('a call nobody holds is answered from its record: 404 unknown, 409 CALL_ENDED (a hang-up of an ended call is done)', async () => {
    const a = await processOn(await fixture.connect());
    await expect(a.live.assume('CA-unknown', { staffId: 'st1' })).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
    await expect(a.live.hangUp('CA-unknown', {})).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await a.calls.open(init('CA3'));
    await a.calls.end('CA3', 'status:completed');
    await expect(a.live.assume('CA3', { staffId: 'st1' })).rejects.toMatchObject({ code: 'CALL_ENDED', status: 409 });
    await expect(a.live.transferToAi('CA3', { agentId: 'clinic' })).rejects.toMatchObject({ code: 'CALL_ENDED' });
    await expect(a.live.hangUp('CA3', {})).resolves.toBeUndefined();
    expect(a.local.ran).toEqual([]);
    await a.close();
  });

  it('a holder that is gone is 503 CALL_NOT_HERE at once, retryable', async () => {
    const a = await processOn(await fixture.connect());
    const b = await processOn(await fixture.connect());
    await callHeldBy(a, b, 'CA4');
    await b.close();
    const started = Date.now();
    const err = await a.live.assume('CA4', { staffId: 'st1' }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(err).toMatchObject({ code: 'CALL_NOT_HERE', status: 503, retryable: true });
    expect((err as Error).message).toMatch(/did not answer/);
    await a.close();
  });

  it('closing unregisters the three handlers (a new process on the bus may serve them again)', async () => {
    const redis = await fixture.connect();
    const control = await RedisControlBus.open(redis, systemClock, silentLogger);
    const commands = new CallCommands({ bus: control, holders: new RedisCallHolders(redis) });
    const off = serveLiveCommands(commands, new RecordingLocal());
    expect(() => commands.on(LIVE_COMMANDS.assume, async () => null)).toThrow(/already registered/);
    off();
    for (const name of Object.values(LIVE_COMMANDS)) commands.on(name, async () => null)();
    await control.close();
  });

  it('refuses a routed command whose arguments do not say who acts', async () => {
    const a = await processOn(await fixture.connect());
    const b = await processOn(await fixture.connect());
    await callHeldBy(a, b, 'CA5');
    const sent = a.commands.send('CA5', LIVE_COMMANDS.assume, { reason: 'no staff id' });
    await expect(sent).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(b.local.ran).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('commands on a live call in one process', () => {
  it('behaves as LocalLiveCalls: the call here runs here, and one not held is answered from its record', async () => {
    const holders = new InProcessCallHolders();
    const calls = new Calls(new MemoryCallRepository(), new MemoryCallEventBus(), new ManualClock(), silentLogger, holders);
    const commands = new CallCommands({ bus: new LocalControlBus(), holders });
    const local = new RecordingLocal();
    const off = serveLiveCommands(commands, local);
    const live = new RoutedLiveCalls({ local, commands, calls });
    await calls.open(init('CA6'));
    local.held.add('CA6');
    await live.hangUp('CA6', { reason: 'done' });
    // Not in a live session yet (connecting): the same process answers through its own handler.
    await calls.open(init('CA7'));
    local.refuse = new AppError('CALL_NOT_HERE', 'another process holds this call');
    await expect(live.assume('CA7', { staffId: 'st1' })).rejects.toMatchObject({ code: 'CALL_NOT_HERE' });
    local.refuse = undefined;
    await expect(live.assume('CA8', { staffId: 'st1' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(local.ran).toEqual([{ command: 'hangUp', callSid: 'CA6', args: { reason: 'done' } }]);
    off();
  });
});
