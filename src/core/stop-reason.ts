/**
 * Why a turn or a live call's AI stops: the reason every AbortController in
 * the call pipeline aborts with (speech out, the reply LLM stream, listening,
 * the flow run). One spelling everywhere. An abort with one of these reasons
 * was asked for, so it is quiet: never logged or recorded as an error.
 *
 * - `barge_in`: the caller spoke (or pressed a key on a gather prompt) over interruptible speech.
 * - `join_turns`: a second caller turn arrived before the reply sent audio; the reply is re-asked for both.
 * - `hangup`: the caller hung up, or the stream closed.
 * - `transfer`: the call left the AI for a person or a number.
 * - `assume`: a person took the call over (the AI is parked, its snapshot kept).
 * - `shutdown`: the process is draining.
 * - `stt_failed` / `tts_failed`: speech input / output failed for good; the flow's fallback follows.
 */
export const STOP_REASONS = ['barge_in', 'join_turns', 'hangup', 'transfer', 'assume', 'shutdown', 'stt_failed', 'tts_failed'] as const;

export type StopReason = (typeof STOP_REASONS)[number];

const KNOWN: ReadonlySet<string> = new Set(STOP_REASONS);

export function isStopReason(value: unknown): value is StopReason {
  return typeof value === 'string' && KNOWN.has(value);
}

/** The stop reason behind an aborted signal (or a thrown reason), if it was an intended stop. */
export function stopReasonOf(reason: unknown): StopReason | undefined {
  if (isStopReason(reason)) return reason;
  if (reason && typeof reason === 'object' && 'reason' in reason && isStopReason(reason.reason)) return reason.reason;
  return undefined;
}
