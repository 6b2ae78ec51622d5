/**
 * One catalogue of errors: a stable code, an HTTP status and whether a retry can
 * help, decided once here and rendered at the edge as
 * `{ "error": { "code", "message", "details" } }` (docs/architecture.md#http-api-conventions).
 */
export const ERRORS = {
  BAD_REQUEST: { status: 400, retryable: false },
  VALIDATION_FAILED: { status: 400, retryable: false },
  INVALID_JSON: { status: 400, retryable: false },
  BODY_TOO_DEEP: { status: 400, retryable: false },
  UNAUTHENTICATED: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  BAD_SIGNATURE: { status: 403, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  CONFLICT: { status: 409, retryable: false },
  STALE_REVISION: { status: 409, retryable: false },
  ILLEGAL_TRANSITION: { status: 409, retryable: false },
  AGENT_ACTIVE: { status: 409, retryable: false },
  NUMBER_TAKEN: { status: 409, retryable: false },
  SLUG_TAKEN: { status: 409, retryable: false },
  USERNAME_TAKEN: { status: 409, retryable: false },
  QUEUE_NAME_TAKEN: { status: 409, retryable: false },
  SEAT_LIMIT_REACHED: { status: 409, retryable: false },
  /** Hand back to an AI agent that is not active (docs/handoff.md#hand-back-to-an-ai). */
  AGENT_NOT_ACTIVE: { status: 409, retryable: false },
  /** The call has ended: nothing can be done to it any more. */
  CALL_ENDED: { status: 409, retryable: false },
  /** The call is not in a state that allows this (a person already has it, a transfer is under way, no person has it). */
  CALL_STATE_CONFLICT: { status: 409, retryable: false },
  /** An activation link that is unknown, used or expired. */
  INVALID_INVITATION: { status: 400, retryable: false },
  INVALID_FLOW: { status: 422, retryable: false },
  /** Publishing requires a passing flow test suite, and the draft's run failed (details.report). */
  TESTS_FAILED: { status: 422, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  URI_TOO_LONG: { status: 414, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  HEADERS_TOO_LARGE: { status: 431, retryable: false },
  RATE_LIMITED: { status: 429, retryable: true },
  NOT_CONFIGURED: { status: 503, retryable: false },
  /** The live call is held by another process of the deployment (a router sends the command there). */
  CALL_NOT_HERE: { status: 503, retryable: true },
  SHUTTING_DOWN: { status: 503, retryable: true },
  NOT_READY: { status: 503, retryable: true },
  UPSTREAM_FAILED: { status: 502, retryable: true },
  INTERNAL: { status: 500, retryable: true },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  readonly status: number;
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERRORS[code].status;
    this.retryable = ERRORS[code].retryable;
  }

  toJSON() {
    return {
      error: { code: this.code, message: this.message, ...(this.details !== undefined ? { details: this.details } : {}) },
    };
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

/** A feature that needs a provider key that is not set names the variable. */
export function notConfigured(variable: string, feature: string): AppError {
  return new AppError('NOT_CONFIGURED', `${feature} needs ${variable} to be set`, { variable });
}
