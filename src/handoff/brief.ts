import type { Clock } from '../core/clock.js';
import type { LlmPort } from '../providers/llm/port.js';

/**
 * What a person hears before "press 1" (docs/handoff.md#the-persons-brief): the transfer node's
 * `summary` (already rendered with the call's variables), else a short LLM
 * summary of the call so far, else the caller's last turns. The person is
 * waiting on the phone, so the LLM gets a few seconds and any failure falls
 * back to the last turns; a brief never blocks a transfer.
 */
export interface BriefTurn {
  role: 'caller' | 'agent' | 'staff';
  text: string;
}

export interface BriefInput {
  summary?: string;
  turns: readonly BriefTurn[];
  llm?: LlmPort;
  clock: Clock;
  model?: string;
}

/** The LLM summary must start streaming and finish within this, or the last turns are used. */
export const BRIEF_LLM_TIMEOUT_MS = 4000;
/** How many of the caller's last turns the fallback brief repeats. */
export const BRIEF_LAST_TURNS = 3;

const SUMMARY_PROMPT =
  'You brief a support person who is about to take over a phone call from an AI agent. ' +
  'In at most two short sentences, say who is calling if known and what they need. No greeting, no lists.';

export function lastTurnsBrief(turns: readonly BriefTurn[]): string {
  const said = turns.filter((t) => t.role === 'caller' && t.text.trim()).slice(-BRIEF_LAST_TURNS).map((t) => t.text.trim());
  return said.length ? `The caller said: ${said.join(' … ')}` : 'A caller is waiting for you.';
}

export async function buildBrief(input: BriefInput): Promise<{ text: string; source: 'summary' | 'llm' | 'last_turns' }> {
  const summary = input.summary?.trim();
  if (summary) return { text: summary, source: 'summary' };
  if (input.llm && input.turns.length) {
    const text = await llmSummary(input).catch(() => '');
    if (text) return { text, source: 'llm' };
  }
  return { text: lastTurnsBrief(input.turns), source: 'last_turns' };
}

async function llmSummary(input: BriefInput): Promise<string> {
  const abort = new AbortController();
  const timer = input.clock.setTimeout(() => abort.abort('brief_timeout'), BRIEF_LLM_TIMEOUT_MS);
  try {
    const transcript = input.turns.map((t) => `${t.role === 'caller' ? 'Caller' : t.role === 'staff' ? 'Staff' : 'Agent'}: ${t.text}`).join('\n');
    let text = '';
    for await (const e of input.llm!.stream({
      messages: [
        { role: 'system', content: SUMMARY_PROMPT },
        { role: 'user', content: transcript },
      ],
      ...(input.model ? { model: input.model } : {}),
      temperature: 0.2,
      signal: abort.signal,
    })) {
      if (e.type === 'text') text += e.text;
    }
    return abort.signal.aborted ? '' : text.trim();
  } finally {
    timer.cancel();
  }
}
