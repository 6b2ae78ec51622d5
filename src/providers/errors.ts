/**
 * The one error type every provider adapter throws or reports. Each adapter
 * classifies a failure once, at its edge, from what the SDK or the wire gives
 * it (HTTP status, SDK error class, our own timers), never from message text;
 * everything downstream (retries, reconnects, fallbacks, logs) reads `kind`
 * and `retryable` instead of re-inspecting the failure.
 */

/**
 * The vendor behind an adapter, `fake` for the in-process fakes, or `unknown`
 * when code holding only a port wraps a failure it cannot attribute.
 */
export type ProviderName = 'deepgram' | 'openai' | 'elevenlabs' | 'fake' | 'unknown';

/** The pipeline stage the adapter serves. */
export type ProviderStage = 'stt' | 'llm' | 'tts';

export type ProviderErrorKind =
  /** The adapter's API key is not set; the message names the variable. */
  | 'not_configured'
  /** 401/403: the key is wrong or lacks access. */
  | 'auth'
  /** Any other refusal of the request itself (4xx): the same request will fail again. */
  | 'bad_request'
  /** 429. */
  | 'rate_limited'
  /** 5xx, 408/409, an error inside the stream, or data we could not read. */
  | 'server_error'
  /** The network: refused, reset, cut mid-body, DNS. */
  | 'connection'
  /** No connection within the connect timeout (STT). */
  | 'connect_timeout'
  /** No first token within the LLM's budget. */
  | 'first_token_timeout'
  /** No first audio byte within the TTS budget. */
  | 'first_byte_timeout'
  /** The stream went quiet mid-way. */
  | 'stall'
  /** Every endpoint of the stage is skipped by its circuit breaker (src/providers/breaker.ts): no request was sent. */
  | 'circuit_open';

/** Whether a fresh attempt can plausibly succeed, per kind: the one table retries and reconnects read. */
const RETRYABLE: Readonly<Record<ProviderErrorKind, boolean>> = {
  not_configured: false,
  auth: false,
  bad_request: false,
  rate_limited: true,
  server_error: true,
  connection: true,
  connect_timeout: true,
  // The caller has already waited the whole budget: the fallback serves them better than another try.
  first_token_timeout: false,
  first_byte_timeout: false,
  stall: true,
  // The breaker decided already; the flow's fallback serves the caller now.
  circuit_open: false,
};

export class ProviderError extends Error {
  readonly retryable: boolean;
  /**
   * A timeout that expired while our own loop was late beyond what the deadline forgives
   * (src/providers/deadline.ts): ms of that lateness. It does not count against the
   * provider's circuit breaker (src/providers/endpoints.ts): an overloaded process would
   * otherwise open the breaker and fail every call at once for its own lateness.
   */
  ownLatenessMs?: number;

  constructor(
    readonly provider: ProviderName,
    readonly stage: ProviderStage,
    readonly kind: ProviderErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ProviderError';
    this.retryable = RETRYABLE[kind];
  }

  /** Notes our loop's lateness left over at a timeout (`ownLatenessMs`), when there was any. */
  withOwnLateness(ms: number | undefined): this {
    if (ms !== undefined && ms > 0) this.ownLatenessMs = ms;
    return this;
  }
}

/** Maps a provider's HTTP status to a kind; one table for every vendor. */
export function kindForStatus(status: number): ProviderErrorKind {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  // 408 (request timeout) and 409 (lock timeout, on OpenAI's side) are transient.
  if (status === 408 || status === 409 || status >= 500) return 'server_error';
  return 'bad_request';
}

/** A port broke its contract by throwing something else: keep the failure, typed. */
export function asProviderError(err: unknown, stage: ProviderStage): ProviderError {
  if (err instanceof ProviderError) return err;
  return new ProviderError('unknown', stage, 'connection', err instanceof Error ? err.message : String(err));
}

export function isProviderError(err: unknown, stage?: ProviderStage): err is ProviderError {
  return err instanceof ProviderError && (stage === undefined || err.stage === stage);
}
