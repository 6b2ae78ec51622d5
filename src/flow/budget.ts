/**
 * The per-call budget of work the agent may do without waiting for the caller.
 *
 * A flow that never listens (say → branch → say …) would otherwise run for ever:
 * on a text channel every `say` returns at once, so the loop starves the event
 * loop and takes the server with it. The budget counts node entries and agent
 * speech since the flow last listened to the caller; a `listen` (the caller had
 * a turn, even a silent one) refills it. Exceeding it ends the call with the
 * fallback message (outcome `failed`, reason `loop` or `agent_only_speech`).
 * The validator refuses the obvious case up front (LOOP_WITHOUT_INPUT); this is
 * the run-time guarantee for everything else, on every channel.
 */

/** Node entries in a row without listening to the caller. */
export const MAX_STEPS_WITHOUT_INPUT = 200;
/** Agent speech in a row without listening to the caller. */
export const MAX_AGENT_SPEECH_WITHOUT_INPUT_MS = 180_000;
/**
 * Text channels return from `say` at once; their speech is estimated from the
 * text at a brisk speaking rate so the same budget applies to them.
 */
export const SPOKEN_CHARS_PER_SECOND = 15;

export type BudgetExceeded = 'loop' | 'agent_only_speech';

export interface BudgetLimits {
  steps: number;
  speechMs: number;
}

export class CallBudget {
  private steps = 0;
  private speechMs = 0;

  constructor(private readonly limits: BudgetLimits = { steps: MAX_STEPS_WITHOUT_INPUT, speechMs: MAX_AGENT_SPEECH_WITHOUT_INPUT_MS }) {}

  /** A node is about to be entered: the reason to stop, if the budget is spent. */
  step(): BudgetExceeded | undefined {
    if (++this.steps > this.limits.steps) return 'loop';
    if (this.speechMs > this.limits.speechMs) return 'agent_only_speech';
    return undefined;
  }

  /** The agent said `text`, which took `elapsedMs` on the channel. */
  spoke(text: string, elapsedMs: number): void {
    this.speechMs += Math.max(elapsedMs, (text.length / SPOKEN_CHARS_PER_SECOND) * 1000);
  }

  /** The flow waited for the caller: a fresh budget. */
  listened(): void {
    this.steps = 0;
    this.speechMs = 0;
  }

  /** For logs: what was spent since the caller last had a turn. */
  spent(): { steps: number; speechMs: number } {
    return { steps: this.steps, speechMs: Math.round(this.speechMs) };
  }
}
