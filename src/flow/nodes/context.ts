import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { LlmRequest, LlmStreamEvent } from '../../providers/llm/port.js';
import type { FlowEvent, RunOutcome } from '../events.js';
import type { FetchLike } from '../http-request.js';
import type { ScoredPassage } from '../knowledge.js';
import type { InterpreterPort, ListenOptions, SayResult } from '../port.js';
import type { Flow, FlowNode, FlowSettings, NodeOf, NodeType } from '../schema.js';
import type { InterpreterSnapshot, NodeStep } from '../snapshot.js';
import type { Variables } from '../template.js';

/**
 * What a node handler may use. Handlers are small functions
 * `(node, ctx) => Promise<Transition>`; the interpreter owns the loop, the
 * snapshot, fallbacks and the end of the run.
 */
export type Transition =
  | { kind: 'next'; to: string }
  /** A failure edge; `edge` undefined goes to the fallback (fallbackNode, else fallbackMessage and end). */
  | { kind: 'fail'; edge: string | undefined; reason: string }
  | { kind: 'end'; outcome: RunOutcome; reason?: string };

/** Thrown to stop the run from anywhere (caller hung up, silence, abort, max duration). */
export class FlowStop extends Error {
  constructor(
    readonly outcome: RunOutcome,
    readonly reason: string,
  ) {
    super(`flow stopped: ${outcome} (${reason})`);
    this.name = 'FlowStop';
  }
}

export interface SayParams {
  interruptible: boolean;
  cacheable: boolean;
  stopOnDtmf?: boolean;
}

export type CallerInput = { kind: 'speech'; text: string } | { kind: 'dtmf'; digits: string } | { kind: 'timeout' };

export interface NodeContext {
  readonly flow: Flow;
  readonly settings: FlowSettings;
  readonly port: InterpreterPort;
  readonly clock: Clock;
  readonly http: FetchLike;
  readonly logger: Logger;
  /** Aborts on abort(), max duration or the end of the run. */
  readonly signal: AbortSignal;
  readonly state: InterpreterSnapshot;
  readonly nodeId: string;
  /** The current node's step, mutable; saved with the snapshot. */
  step<T extends NodeStep['type']>(type: T): Extract<NodeStep, { type: T }>;
  /** Variables as templates see them (dotted names nested, builtins included). */
  scope(extra?: Variables): Variables;
  render(template: string, extra?: Variables): string;
  resolve(name: string): unknown;
  setVariable(name: string, value: unknown): void;
  /** Speaks and records an agent turn; returns what was heard. */
  say(text: string | AsyncIterable<string>, params: SayParams): Promise<SayResult & { text: string }>;
  /** Waits for the caller and records the turn; a hang-up stops the run. */
  listen(options: Omit<ListenOptions, 'signal'>): Promise<CallerInput>;
  /** listen with the flow's silence policy: reprompt once, then hang up. */
  listenWithSilencePolicy(options: Omit<ListenOptions, 'signal' | 'timeoutMs'>): Promise<Exclude<CallerInput, { kind: 'timeout' }>>;
  /** Streams from the LLM (a stub that throws `not_configured` when none is set). */
  llmStream(request: LlmRequest): AsyncIterable<LlmStreamEvent>;
  knowledge(query: string): ScoredPassage[];
  /** The call's date (YYYY-MM-DD) and weekday in the business-hours zone, else UTC. */
  today(): { date: string; weekday: string };
  emit(event: FlowEvent): void;
  checkpoint(): void;
  /** Throws FlowStop if the run was aborted meanwhile. */
  checkAbort(): void;
}

export type NodeHandler<T extends NodeType> = (node: NodeOf<T>, ctx: NodeContext) => Promise<Transition>;

export type AnyNodeHandler = (node: FlowNode, ctx: NodeContext) => Promise<Transition>;
