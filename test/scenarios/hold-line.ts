import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from './harness.js';

/**
 * A line that keeps its callers: a greeting, then a keypad prompt that waits a
 * minute. Scenarios about capacity and shutdown hold several calls on it and
 * end one by pressing a key.
 */
export const holdFlow = {
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

export interface HoldLine {
  h: Harness;
  /** The caller has heard the greeting and reached the keypad prompt. */
  atPrompt(callSid: string): boolean;
  close(): Promise<void>;
}

/** A harness serving the hold line on `number`, with extra environment. */
export async function startHoldLine(number: string, env: Record<string, string> = {}): Promise<HoldLine> {
  const dir = await mkdtemp(join(tmpdir(), 'flows-'));
  await writeFile(join(dir, 'hold.json'), JSON.stringify(holdFlow));
  const h = await startHarness({ env: { FLOWS_DIR: dir, PHONE_NUMBERS: `${number}=hold`, ...env }, warm: ['hold'] });
  return {
    h,
    atPrompt: (sid) => h.eventsOf(sid).some((e) => e.type === 'turn.agent' && e.nodeId === 'ask'),
    close: async () => {
      await h.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
