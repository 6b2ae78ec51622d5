/**
 * The interpreter port (docs/architecture.md#interpreter-port): the flow engine talks to any channel (phone
 * pipeline, terminal chat, HTTP test chat) only through this interface.
 */

export type SayOutcome = 'played' | 'interrupted' | 'aborted';

export interface SayOptions {
  /** Caller speech may cut it off (barge-in). */
  interruptible: boolean;
  /** Text renders without per-call variables, so the audio may come from the phrase cache. */
  cacheable: boolean;
  /**
   * A gather prompt: a key press stops it (like a barge-in) and the digits are
   * kept for the next `listen`. Elsewhere key presses are only queued.
   */
  stopOnDtmf?: boolean;
  signal?: AbortSignal;
}

export interface SayResult {
  outcome: SayOutcome;
  /** What the caller actually heard; for an interruption, ends in "…". */
  heardText: string;
}

export interface ListenOptions {
  /** Accept caller speech. */
  speech: boolean;
  /**
   * Accept keypad input, collected until the terminator or `max` digits; queued
   * digits (pressed earlier) count. An inter-digit pause of `timeoutMs` ends it.
   */
  dtmf?: { min: number; max: number; terminator: '#' | '*' | 'none' } | false;
  /** How long to wait for input once listening starts (silence timer). */
  timeoutMs: number;
  signal?: AbortSignal;
}

export type ListenResult =
  | { kind: 'speech'; text: string }
  | { kind: 'dtmf'; digits: string }
  | { kind: 'timeout' }
  | { kind: 'hangup' };

export type TransferTarget = { queue: string } | { number: string };

export interface TransferRequest {
  target: TransferTarget;
  mode: 'warm' | 'cold';
  /** Rendered announcement already spoken to the caller, if any. */
  announce?: string;
  /** Rendered briefing for the person (warm only). */
  summary?: string;
  /** Node the flow goes to if nobody can take the call. */
  onUnavailable?: string;
  nodeId: string;
  /** How long each person is rung, and how long the caller may wait in all (warm). */
  ringSeconds?: number;
  maxWaitSeconds?: number;
}

export type TransferResult =
  /** The caller left the AI (bridged, or the call moved on); the interpreter stops. */
  | { outcome: 'transferred' }
  /** Nobody could take it; the flow continues at `onUnavailable`. */
  | { outcome: 'unavailable'; reason: string };

export interface InterpreterPort {
  say(text: string | AsyncIterable<string>, options: SayOptions): Promise<SayResult>;
  listen(options: ListenOptions): Promise<ListenResult>;
  transfer(request: TransferRequest): Promise<TransferResult>;
  hangup(reason?: string): Promise<void>;
}
