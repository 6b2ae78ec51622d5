import type { CallRecord } from './call-record.js';

/**
 * How a call ended, in the few classes analytics count (docs/metrics.md#call-results),
 * decided once from the record when it is stored. The record's `outcome.kind`
 * stays the full story; this is the summary.
 *
 *   completed    the agent finished the call (an `end` node, a max-length hang-up, a voicemail left)
 *   transferred  a person took the call: a cold transfer answered, a warm transfer accepted, an assume
 *   abandoned    the caller left before the agent was done: hung up while the AI had the call,
 *                never connected (canceled, busy, no answer, no stream), or stopped answering (silence)
 *   failed       something broke: a media or speech failure, an internal error, a shutdown, a lost process
 *   unavailable  the agent did not take the call: inactive, outside business hours, at capacity
 *   other        an outcome this list does not know yet
 */
export const CALL_RESULTS = ['completed', 'transferred', 'abandoned', 'failed', 'unavailable', 'other'] as const;
export type CallResult = (typeof CALL_RESULTS)[number];

const BY_KIND: Readonly<Record<string, CallResult>> = {
  completed: 'completed',
  max_duration: 'completed',
  // An outbound call that reached an answering machine and left its message (docs/outbound.md).
  voicemail: 'completed',
  transferred: 'transferred',
  unavailable: 'unavailable',
  canceled: 'abandoned',
  busy: 'abandoned',
  'no-answer': 'abandoned',
  no_stream: 'abandoned',
  silence_timeout: 'abandoned',
  failed: 'failed',
  media_error: 'failed',
  tts_failed: 'failed',
  shutdown: 'failed',
};

/**
 * `completed` with these details: the call ended because the caller hung up
 * while the AI still had it (a stream `stop`, or Twilio's final status first),
 * not because the flow reached its end.
 */
const CALLER_LEFT = new Set(['caller_hangup', 'status:completed', 'stream_ended']);

/** Undefined while the call is in progress. */
export function callResultOf(record: Pick<CallRecord, 'state' | 'outcome' | 'handledBy'>): CallResult | undefined {
  if (record.state !== 'ended') return undefined;
  if ((record.handledBy?.length ?? 0) > 0) return 'transferred';
  const kind = record.outcome?.kind ?? 'completed';
  const result = BY_KIND[kind] ?? 'other';
  if (result === 'completed' && kind === 'completed' && CALLER_LEFT.has(record.outcome?.detail ?? '')) return 'abandoned';
  return result;
}
