import { describe, expect, it } from 'vitest';
import { backoffMs, decideRetry, retryAfterMs } from '../../../src/providers/llm/retry.js';
import { kindForStatus, ProviderError } from '../../../src/providers/errors.js';

/** The LLM retry policy: never repeat spoken text, never wait past the first-token budget. */

const base = {
  yielded: false,
  attempt: 1,
  maxAttempts: 3,
  retryAfterMs: undefined,
  backoffMs: 100,
  budgetLeftMs: 4_000,
};

describe('decideRetry', () => {
  it('retries transient kinds before anything was spoken', () => {
    for (const kind of ['rate_limited', 'server_error', 'connection', 'stall'] as const) {
      expect(decideRetry({ ...base, error: new ProviderError('fake', 'llm', kind, 'x') })).toEqual({ retry: true, delayMs: 100 });
    }
  });

  it('never retries auth, bad_request, timeouts or not_configured', () => {
    for (const kind of ['auth', 'bad_request', 'first_token_timeout', 'not_configured'] as const) {
      expect(decideRetry({ ...base, error: new ProviderError('fake', 'llm', kind, 'x') })).toMatchObject({ retry: false, reason: 'not_retryable' });
    }
  });

  it('never retries once text or a tool call was handed over', () => {
    expect(decideRetry({ ...base, yielded: true, error: new ProviderError('fake', 'llm', 'stall', 'x') })).toMatchObject({
      retry: false,
      reason: 'spoken',
    });
  });

  it('stops at maxAttempts', () => {
    expect(decideRetry({ ...base, attempt: 3, error: new ProviderError('fake', 'llm', 'server_error', 'x') })).toMatchObject({
      retry: false,
      reason: 'attempts',
    });
  });

  it('prefers the server-requested wait, and gives up when it exceeds the budget', () => {
    const error = new ProviderError('fake', 'llm', 'rate_limited', 'x');
    expect(decideRetry({ ...base, error, retryAfterMs: 0 })).toEqual({ retry: true, delayMs: 0 });
    expect(decideRetry({ ...base, error, retryAfterMs: 700 })).toEqual({ retry: true, delayMs: 700 });
    expect(decideRetry({ ...base, error, retryAfterMs: 5_000 })).toMatchObject({ retry: false, reason: 'budget' });
    expect(decideRetry({ ...base, error, budgetLeftMs: 100 })).toMatchObject({ retry: false, reason: 'budget' });
  });
});

describe('retryAfterMs', () => {
  const h = (init: Record<string, string>) => new Headers(init);
  it('reads retry-after-ms first, then retry-after seconds or date', () => {
    expect(retryAfterMs(h({ 'retry-after-ms': '250', 'retry-after': '9' }), 0)).toBe(250);
    expect(retryAfterMs(h({ 'retry-after': '2' }), 0)).toBe(2_000);
    const now = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(retryAfterMs(h({ 'retry-after': new Date(now + 3_000).toUTCString() }), now)).toBe(3_000);
  });
  it('ignores absent or garbage values', () => {
    expect(retryAfterMs(undefined, 0)).toBeUndefined();
    expect(retryAfterMs(h({}), 0)).toBeUndefined();
    expect(retryAfterMs(h({ 'retry-after-ms': 'soon', 'retry-after': 'later' }), 0)).toBeUndefined();
    expect(retryAfterMs(h({ 'retry-after-ms': '-5' }), 0)).toBeUndefined();
  });
});

describe('backoffMs', () => {
  it('doubles per attempt with half the step jittered', () => {
    expect(backoffMs(1, 200, () => 0)).toBe(100);
    expect(backoffMs(1, 200, () => 1)).toBe(200);
    expect(backoffMs(2, 200, () => 0.5)).toBe(300);
    expect(backoffMs(3, 200, () => 0)).toBe(400);
  });
});

describe('kindForStatus', () => {
  it('maps provider statuses to error kinds', () => {
    expect(kindForStatus(429)).toBe('rate_limited');
    expect(kindForStatus(401)).toBe('auth');
    expect(kindForStatus(403)).toBe('auth');
    expect(kindForStatus(400)).toBe('bad_request');
    expect(kindForStatus(404)).toBe('bad_request');
    expect(kindForStatus(422)).toBe('bad_request');
    expect(kindForStatus(408)).toBe('server_error');
    expect(kindForStatus(500)).toBe('server_error');
    expect(kindForStatus(503)).toBe('server_error');
  });
});
