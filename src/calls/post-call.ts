import { z } from 'zod';
import type { CallRecord } from './call-record.js';
import type { LlmMessage } from '../providers/llm/port.js';

/**
 * Post-call processing (docs/jobs.md#post-call-processing): what the LLM makes
 * of an ended call's transcript. The prompt, and the check of its answer, live
 * here; the job that asks (src/jobs/processors/post-call.ts) only moves data.
 */

/** A small fixed set, so reports can count them; anything else the model says becomes `other`. */
export const DISPOSITIONS = ['resolved', 'transferred', 'follow_up', 'abandoned', 'other'] as const;
export type Disposition = (typeof DISPOSITIONS)[number];

export type PostCallValue = string | number | boolean | null;

export interface PostCallResult {
  summary: string;
  disposition: Disposition;
  /** Facts the caller gave (name, date, order number, …), keyed in camelCase. */
  variables: Record<string, PostCallValue>;
  /** Wall-clock epoch ms when it was stored. */
  at: number;
}

/** Bounds on what is stored: a model that rambles must not bloat the call row. */
const SUMMARY_MAX = 1000;
const VARIABLES_MAX = 30;
const KEY_MAX = 64;
const VALUE_MAX = 500;

/** True when the caller said something: a call with no caller turn has nothing to summarise. */
export function hasCallerTurns(record: CallRecord): boolean {
  return record.turns.some((t) => t.role === 'caller' && t.text.trim() !== '');
}

const SPEAKER: Record<CallRecord['turns'][number]['role'], string> = { caller: 'Caller', agent: 'Agent', staff: 'Staff' };

/** The request: instructions, then the transcript and how the call ended. The word "JSON" is required by OpenAI's JSON mode. */
export function postCallMessages(record: CallRecord): LlmMessage[] {
  const transcript = record.turns
    .filter((t) => !t.backchannel && t.text.trim() !== '')
    .map((t) => `${SPEAKER[t.role]}: ${t.text}`)
    .join('\n');
  const ended = record.outcome ? `${record.outcome.kind}${record.outcome.detail ? ` (${record.outcome.detail})` : ''}` : 'unknown';
  return [
    {
      role: 'system',
      content: [
        'You review finished phone calls between a caller and a voice agent (and sometimes a staff member).',
        'Answer with one JSON object and nothing else, with exactly these keys:',
        '"summary": two or three plain sentences on what the caller wanted and what happened;',
        `"disposition": one of ${DISPOSITIONS.map((d) => `"${d}"`).join(', ')} ` +
          '(resolved: the caller got what they called for; transferred: handed to a person or number; ' +
          'follow_up: someone must act or call back; abandoned: the caller left before anything was settled);',
        '"variables": an object of facts the caller gave (such as name, date, reason, order number), camelCase keys, ' +
          'string, number or boolean values; {} when there are none.',
        'Use only what the transcript says.',
      ].join('\n'),
    },
    { role: 'user', content: `How the call ended: ${ended}\n\nTranscript:\n${transcript}` },
  ];
}

const answerSchema = z.object({
  summary: z.string().min(1),
  disposition: z.string(),
  variables: z.record(z.string(), z.unknown()).optional(),
});

/** The model's answer checked and bounded; throws when it is not the object asked for (the job retries). */
export function parsePostCallAnswer(text: string, at: number): PostCallResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text.trim());
  } catch {
    throw new Error('the LLM answer is not JSON');
  }
  const parsed = answerSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`the LLM answer lacks a summary or disposition: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const disposition = (DISPOSITIONS as readonly string[]).includes(parsed.data.disposition) ? (parsed.data.disposition as Disposition) : 'other';
  const variables: Record<string, PostCallValue> = {};
  for (const [key, value] of Object.entries(parsed.data.variables ?? {}).slice(0, VARIABLES_MAX)) {
    if (key.length === 0 || key.length > KEY_MAX) continue;
    if (typeof value === 'string') variables[key] = value.slice(0, VALUE_MAX);
    else if (typeof value === 'number' || typeof value === 'boolean' || value === null) variables[key] = value;
    // Nested objects and arrays are left out: the stored shape stays flat and predictable.
  }
  return { summary: parsed.data.summary.trim().slice(0, SUMMARY_MAX), disposition, variables, at };
}
