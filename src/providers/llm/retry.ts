import type { ProviderError } from '../errors.js';

/**
 * Retry policy for one LLM turn, kept free of the SDK so it is testable on its
 * own. A turn may retry only while nothing has been spoken yet and only inside
 * the first-token budget: a caller waiting on silence is better served by the
 * flow's fallback than by a reply arriving late.
 */

/** Reads `retry-after-ms` (OpenAI's, milliseconds) first, then the standard `retry-after` (seconds or an HTTP date). */
export function retryAfterMs(headers: Headers | undefined, wallNowMs: number): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '') {
    const n = Number(ms);
    if (Number.isFinite(n) && n >= 0) return n;
  }
  const after = headers.get('retry-after');
  if (after !== null && after.trim() !== '') {
    const seconds = Number(after);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const at = Date.parse(after);
    if (!Number.isNaN(at)) return Math.max(0, at - wallNowMs);
  }
  return undefined;
}

/**
 * Exponential backoff with "equal jitter": half the step is fixed, half random,
 * so parallel calls hitting the same 429 spread out without ever retrying at 0.
 * `attempt` is the attempt that just failed (1-based).
 */
export function backoffMs(attempt: number, baseMs: number, random: () => number = Math.random): number {
  const step = baseMs * 2 ** Math.max(0, attempt - 1);
  return step / 2 + random() * (step / 2);
}

export interface RetryDecision {
  retry: boolean;
  delayMs: number;
  /** Why not, for the log line. */
  reason?: 'not_retryable' | 'spoken' | 'attempts' | 'budget';
}

export function decideRetry(input: {
  error: ProviderError;
  /** Anything already handed to the consumer (text or a tool call). */
  yielded: boolean;
  attempt: number;
  maxAttempts: number;
  /** The server's requested wait, if it sent one. */
  retryAfterMs: number | undefined;
  backoffMs: number;
  /** Milliseconds left of the first-token budget. */
  budgetLeftMs: number;
}): RetryDecision {
  if (!input.error.retryable) return { retry: false, delayMs: 0, reason: 'not_retryable' };
  if (input.yielded) return { retry: false, delayMs: 0, reason: 'spoken' };
  if (input.attempt >= input.maxAttempts) return { retry: false, delayMs: 0, reason: 'attempts' };
  const delayMs = input.retryAfterMs ?? input.backoffMs;
  // Waiting must leave room for the next attempt to produce a token at all.
  if (delayMs >= input.budgetLeftMs) return { retry: false, delayMs, reason: 'budget' };
  return { retry: true, delayMs };
}
