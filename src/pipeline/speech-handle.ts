import type { StopReason } from '../core/stop-reason.js';
import type { HeardReport } from './playout.js';

/**
 * One utterance of the agent on a live call: what it meant to say, the
 * segments it was cut into, how it ended, what the caller heard, and the turn
 * metrics measured for it. Its AbortController is the turn's: barge-in, a
 * joined caller turn, a hang-up, a transfer, a take-over or the shutdown stop
 * the utterance through it, with a StopReason, and the first reason wins.
 */
export type SpeechOutcome = 'played' | 'interrupted' | 'aborted';

/** Reasons that cut the agent off because the caller spoke or typed: the turn is `interrupted`, not `aborted`. */
const CALLER_REASONS: ReadonlySet<StopReason> = new Set(['barge_in', 'join_turns']);

export class SpeechHandle {
  private readonly controller = new AbortController();
  private settled = false;
  private resolveDone!: (speech: SpeechHandle) => void;
  private outcomeValue: SpeechOutcome | undefined;
  private heard = '';
  private textValue = '';
  private segmentTexts: readonly string[] = [];
  private fromCache = false;
  private metricsValue: Readonly<Record<string, number>> | undefined;
  private cutOff: HeardReport | undefined;
  /** Resolves once the outcome is known. */
  readonly done: Promise<SpeechHandle>;

  constructor(
    /** The playout turn its segments are played under. */
    readonly id: number,
    readonly interruptible: boolean,
    /** A gather prompt: a key press stops it like a barge-in. */
    readonly stopOnDtmf: boolean,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get stopReason(): StopReason | undefined {
    return this.controller.signal.aborted ? (this.controller.signal.reason as StopReason) : undefined;
  }

  /**
   * Stops the utterance; `heard` is the playout's report of what had played
   * when it was cleared. False if it was already stopped or over.
   */
  abort(reason: StopReason, heard?: HeardReport): boolean {
    if (this.settled || this.controller.signal.aborted) return false;
    this.cutOff = heard;
    this.controller.abort(reason);
    return true;
  }

  /** What the caller heard of this utterance when it was cut off ('' if nothing, undefined if it was not cut off). */
  get heardWhenCut(): string | undefined {
    if (!this.cutOff) return undefined;
    return this.cutOff.turns.find((t) => t.turn === this.id)?.heardText ?? '';
  }

  /** Whether the stop came from the caller (barge-in, joined turn) rather than the call ending. */
  get cutByCaller(): boolean {
    const r = this.stopReason;
    return r !== undefined && CALLER_REASONS.has(r);
  }

  /** Records how the utterance ended; later calls are ignored. */
  settle(result: { outcome: SpeechOutcome; heardText: string; text: string; segments?: readonly string[]; cached?: boolean }): void {
    if (this.settled) return;
    this.settled = true;
    this.outcomeValue = result.outcome;
    this.heard = result.heardText;
    this.textValue = result.text;
    this.segmentTexts = result.segments ?? [];
    this.fromCache = result.cached ?? false;
    this.resolveDone(this);
  }

  /** The per-turn metrics of the reply this utterance carries (measured at its first frame). */
  attachMetrics(metrics: Record<string, number>): void {
    this.metricsValue = Object.freeze({ ...metrics });
  }

  get outcome(): SpeechOutcome | undefined {
    return this.outcomeValue;
  }
  get heardText(): string {
    return this.heard;
  }
  get text(): string {
    return this.textValue;
  }
  get segments(): readonly string[] {
    return this.segmentTexts;
  }
  /** Every segment came from the phrase cache. */
  get cached(): boolean {
    return this.fromCache;
  }
  get metrics(): Readonly<Record<string, number>> | undefined {
    return this.metricsValue;
  }
}
