import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CALLER, startHarness, type Harness } from './harness.js';

/**
 * MAX_CALLS: a process that is full answers a new call with the agent's
 * unavailable behaviour (TwiML, never an error, no stream) instead of taking
 * it and degrading every call in progress; calls answered but not yet
 * streaming count, and a freed slot is usable again.
 */
let h: Harness | undefined;
let dir: string | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const NUMBER = '+15550100009';
const holdFlow = {
  version: 1,
  name: 'Hold line',
  settings: {},
  start: 'hello',
  nodes: [
    { id: 'hello', type: 'say', text: 'Hello.', next: 'ask' },
    {
      id: 'ask',
      type: 'gather',
      prompt: 'Press a key when you are ready.',
      variable: 'k',
      input: ['dtmf'],
      digits: { min: 1, max: 1, terminator: 'none' },
      timeoutMs: 60_000,
      retries: 0,
      next: 'bye',
      onFailure: 'bye',
    },
    { id: 'bye', type: 'end', text: 'Bye.' },
  ],
};

describe('MAX_CALLS', () => {
  it('a call past the limit hears the unavailable answer and opens no stream; a freed slot takes the next call', async () => {
    dir = await mkdtemp(join(tmpdir(), 'flows-'));
    await writeFile(join(dir, 'hold.json'), JSON.stringify(holdFlow));
    h = await startHarness({ env: { FLOWS_DIR: dir, PHONE_NUMBERS: `${NUMBER}=hold`, MAX_CALLS: '2' }, warm: ['hold'] });
    const harness = h;
    const atPrompt = (sid: string) => harness.eventsOf(sid).some((e) => e.type === 'turn.agent' && e.nodeId === 'ask');

    const first = await h.sim.placeCall({ from: CALLER, to: NUMBER });
    const second = await h.sim.placeCall({ from: CALLER, to: NUMBER });
    await h.until(() => atPrompt(first.callSid) && atPrompt(second.callSid), { what: 'two calls at the prompt' });

    const refused = await h.sim.placeCall({ from: CALLER, to: NUMBER });
    await h.until(() => refused.ended, { what: 'the third call to end' });
    expect(refused.says()).toEqual(['Sorry, this line is not available right now. Please call again later.']);
    expect(refused.events.some((e) => e.kind === 'stream_open')).toBe(false);
    expect((await h.record(refused.callSid)).outcome).toEqual({ kind: 'unavailable', detail: 'at_capacity' });
    // The calls in progress are untouched.
    expect(first.ended).toBe(false);
    expect(second.ended).toBe(false);

    first.pressDigit('1');
    await h.until(() => first.ended, { what: 'the first call to end' });
    await h.until(() => h!.container.telephony.sessions.size === 1, { what: 'its slot to be freed' });

    const next = await h.sim.placeCall({ from: CALLER, to: NUMBER });
    await h.until(() => atPrompt(next.callSid), { what: 'the next call to be answered by the agent' });
    expect(next.events.some((e) => e.kind === 'stream_open')).toBe(true);
  });
});
