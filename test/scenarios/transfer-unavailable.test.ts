import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CALLER, startHarness, type Harness } from './harness.js';

/**
 * Transfers nobody can take: a queue that does not exist (nobody eligible, at
 * once) and a warm transfer to a number nobody answers both hold the caller in
 * their conference, then give them back to the AI at `onUnavailable`.
 * Also: maxCallSeconds ends the call from the pipeline.
 */
let h: Harness | undefined;
let dir: string | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const NUMBERS = { queue: '+15550100011', warm: '+15550100012', long: '+15550100013' };

const transferFlow = (target: object) => ({
  version: 1,
  name: 'Transfer test',
  start: 'xfer',
  nodes: [
    { id: 'xfer', type: 'transfer', target, mode: 'warm', announce: 'Connecting you.', summary: 'A caller.', onUnavailable: 'sorry' },
    { id: 'sorry', type: 'end', text: 'Nobody is free.' },
  ],
});

async function setup() {
  dir = await mkdtemp(join(tmpdir(), 'flows-'));
  await writeFile(join(dir, 'queue.json'), JSON.stringify(transferFlow({ queue: 'support' })));
  await writeFile(join(dir, 'warm.json'), JSON.stringify(transferFlow({ number: '+15550109999' })));
  await writeFile(
    join(dir, 'long.json'),
    JSON.stringify({
      version: 1,
      name: 'Long menu',
      settings: { maxCallSeconds: 5 },
      start: 'menu',
      nodes: [
        { id: 'menu', type: 'gather', prompt: 'Press a key.', variable: 'k', input: ['dtmf'], timeoutMs: 60000, retries: 0, next: 'bye', onFailure: 'bye' },
        { id: 'bye', type: 'end', text: 'Bye.' },
      ],
    }),
  );
  h = await startHarness({
    env: { FLOWS_DIR: dir, PHONE_NUMBERS: `${NUMBERS.queue}=queue,${NUMBERS.warm}=warm,${NUMBERS.long}=long` },
    warm: ['queue', 'warm', 'long'],
    dialOutcome: 'completed',
  });
  return h;
}

describe('transfers nobody takes', () => {
  it('a queue that does not exist: on hold, then back to the AI at onUnavailable at once', async () => {
    const hh = await setup();
    const call = await hh.sim.placeCall({ from: CALLER, to: NUMBERS.queue });
    const record = await hh.finish(call);
    expect(record.turns.map((t) => t.text)).toEqual(['Connecting you.', 'Nobody is free.']);
    const types = hh.eventsOf(call.callSid).map((e) => e.type);
    expect(types).not.toContain('transfer.degraded');
    expect(hh.eventsOf(call.callSid).filter((e) => e.type === 'call.state').map((e) => (e as { to: string }).to)).toEqual([
      'ai',
      'transferring',
      'connecting',
      'ai',
      'ended',
    ]);
    expect(call.events.some((e) => e.kind === 'dial')).toBe(false);
    expect(record.outcome?.kind).toBe('completed');
  });

  it('a warm transfer to a number nobody answers: the number rings (REST leg), then onUnavailable', async () => {
    const hh = await setup();
    const call = await hh.sim.placeCall({ from: CALLER, to: NUMBERS.warm });
    const record = await hh.finish(call);
    expect(hh.eventsOf(call.callSid).find((e) => e.type === 'transfer.no_answer')).toMatchObject({ staffId: 'number:+15550109999' });
    expect(hh.sim.legsTo('+15550109999')).toHaveLength(1);
    expect(record.turns.map((t) => t.text)).toEqual(['Connecting you.', 'Nobody is free.']);
    expect(record.outcome?.kind).toBe('completed');
  });
});

describe('maxCallSeconds', () => {
  it('ends the call when the call has lasted maxCallSeconds', async () => {
    const hh = await setup();
    const call = await hh.sim.placeCall({ from: CALLER, to: NUMBERS.long });
    const record = await hh.finish(call);
    expect(record.outcome?.kind).toBe('max_duration');
    expect(record.endedAt! - record.createdAt).toBeGreaterThanOrEqual(5000);
    expect(record.endedAt! - record.createdAt).toBeLessThan(5300);
  });
});
