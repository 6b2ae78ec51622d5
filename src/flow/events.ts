import type { TransferTarget } from './port.js';

/**
 * What the interpreter reports while it runs. Channels turn these into call
 * events (history, live feed, metrics); the text chat prints them.
 */
export type RunOutcome = 'completed' | 'transferred' | 'hangup' | 'max_duration' | 'failed' | 'closed' | 'aborted';

export interface RunResult {
  outcome: RunOutcome;
  /** Why, in a word: `silence`, `caller`, `llm_failed`, `gather_failed`, `loop`, an abort reason, … */
  reason?: string;
  /** The node the run stopped in (undefined only when it never entered one). */
  lastNodeId?: string;
}

export type FlowEvent =
  | { type: 'node.entered'; nodeId: string; nodeType: string; from?: string; resumed?: boolean }
  | { type: 'variable.set'; name: string; value: unknown; nodeId?: string }
  | { type: 'turn.agent'; nodeId: string; text: string; heardText: string; interrupted: boolean }
  | { type: 'turn.caller'; nodeId: string; text?: string; digits?: string }
  | { type: 'llm.failed'; nodeId: string; kind: string; message: string }
  /**
   * A failure took the fallback (docs/architecture.md#fallbacks): `reason` is the failure (`llm_failed`,
   * `stt_failed`, `gather_failed`, …), `nodeId` the node it happened in. With `fallbackNode` the
   * flow goes on there; without, the caller hears the fallback message and the call ends `failed`.
   */
  | { type: 'flow.fallback'; reason: string; nodeId?: string; fallbackNode?: string }
  | { type: 'tool.called'; nodeId: string; name: string; status: number | 'timeout' | 'network' | 'error'; ms: number }
  | { type: 'transfer.requested'; nodeId: string; target: TransferTarget; mode: 'warm' | 'cold' }
  | { type: 'flow.ended'; outcome: RunOutcome; reason?: string; nodeId?: string };
