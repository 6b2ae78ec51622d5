import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallEvent } from '../../src/calls/events.js';
import { startHarness, type Harness, type HarnessOptions } from './harness.js';

/** A small spoken flow for turn-taking and recovery scenarios, on its own number. */
export const TALK_NUMBER = '+15550100009';

export const GREETING = 'Hello, how can I help?';
/** About 2.6 s of the fake voice (80 bytes per character), so a caller can finish a sentence over it. */
export const NOTICE =
  'Please listen carefully, as our options have recently changed. Calls may be recorded for quality and training purposes. ' +
  'Our opening hours and holiday schedule are on our website, where you can also manage your account at any time.';
export const FALLBACK = 'Sorry, something went wrong on our side. Goodbye.';

export function talkFlow(options: { notice?: boolean; fallbackNode?: boolean } = {}) {
  return {
    version: 1,
    name: 'Talk line',
    settings: {
      systemPrompt: 'You help callers briefly.',
      fallbackMessage: FALLBACK,
      ...(options.fallbackNode ? { fallbackNode: 'desk' } : {}),
    },
    start: options.notice ? 'notice' : 'hello',
    nodes: [
      ...(options.notice ? [{ id: 'notice', type: 'say', text: NOTICE, interruptible: false, next: 'hello' }] : []),
      { id: 'hello', type: 'say', text: GREETING, next: 'chat' },
      {
        id: 'chat',
        type: 'conversation',
        prompt: 'Answer the caller.',
        exits: [
          { name: 'done', when: 'the caller is done', to: 'bye' },
          { name: 'person', when: 'the caller wants a person', to: 'desk' },
        ],
      },
      { id: 'desk', type: 'transfer', target: { number: '+15550104444' }, mode: 'cold', announce: 'Connecting you to a person.' },
      { id: 'bye', type: 'end', text: 'Goodbye.' },
    ],
  };
}

export interface TalkHarness extends Harness {
  dispose(): Promise<void>;
}

export async function startTalkHarness(
  flow: ReturnType<typeof talkFlow> = talkFlow(),
  options: HarnessOptions = {},
): Promise<TalkHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'talk-flows-'));
  await writeFile(join(dir, 'talk.json'), JSON.stringify(flow));
  const h = await startHarness({
    speech: true,
    warm: ['talk'],
    ...options,
    env: { FLOWS_DIR: dir, PHONE_NUMBERS: `${TALK_NUMBER}=talk`, ...options.env },
  });
  return Object.assign(h, {
    async dispose() {
      await h.close();
      await rm(dir, { recursive: true, force: true });
    },
  });
}

export const agentTurnsOf = (events: CallEvent[]) =>
  events.filter((e): e is Extract<CallEvent, { type: 'turn.agent' }> => e.type === 'turn.agent');

/** Waits until the agent has finished `n` turns. */
export function agentTurnsDone(h: Harness, callSid: string, n: number, what = `${n} agent turns`) {
  return h.until(() => agentTurnsOf(h.eventsOf(callSid)).length >= n, { what });
}

/** Messages of the n-th LLM request (0-based). */
export function llmMessages(h: Harness, n: number): { role: string; content: string | null }[] {
  return h.openai!.requests[n]!.messages as { role: string; content: string | null }[];
}
