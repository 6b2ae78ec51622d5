import { z } from 'zod';
import { AppError } from '../core/errors.js';
import type { LlmMessage } from '../providers/llm/port.js';
import type { RunResult } from './events.js';

/**
 * The interpreter's whole state as JSON (docs/architecture.md#interpreter-port): saved after every step and
 * accepted by `resume`, so a call can leave the AI (assume, failover) and come
 * back exactly where it was. Bump SNAPSHOT_SCHEMA_VERSION on any incompatible
 * change and keep reading the old one.
 */
export const SNAPSHOT_SCHEMA_VERSION = 1;

export interface AgentRef {
  id: string;
  slug: string;
  name: string;
  version: number;
}

export interface CallRef {
  sid?: string;
  from?: string;
  to?: string;
}

export interface TranscriptEntry {
  role: 'caller' | 'agent' | 'system';
  /** For the agent: what it meant to say (before pronunciations). */
  text: string;
  /** For the agent: what the caller actually heard (ends in "…" when cut off). */
  heardText?: string;
  interrupted?: boolean;
  /** A caller turn made of key presses. */
  dtmf?: boolean;
  nodeId?: string;
  /** Wall-clock epoch ms. */
  at: number;
}

/** Tool calls and results of the current conversation node, kept in place. */
export interface ToolExchange {
  /** Transcript length when it happened: it sits before transcript[at]. */
  at: number;
  messages: LlmMessage[];
}

export type NodeStep =
  | { type: 'say' }
  | {
      type: 'conversation';
      /** `opening`: speakFirst still to speak; `listen`: waiting for the caller; `reply`: a caller turn awaits its answer. */
      phase: 'opening' | 'listen' | 'reply';
      /** Caller turns answered in this node (for maxTurns). */
      turns: number;
      spokeFirst: boolean;
      toolLog: ToolExchange[];
    }
  | { type: 'gather'; attempt: number }
  | { type: 'branch' }
  | { type: 'http' }
  | { type: 'transfer'; phase: 'announce' | 'request' | 'done' }
  | { type: 'end' };

export interface Counters {
  steps: number;
  llmRequests: number;
  callerTurns: number;
  agentTurns: number;
  fallbacks: number;
  resumes: number;
  visits: Record<string, number>;
}

export interface InterpreterSnapshot {
  schemaVersion: typeof SNAPSHOT_SCHEMA_VERSION;
  agent: AgentRef;
  call: CallRef;
  status: 'running' | 'ended';
  result?: RunResult;
  /** Where the flow is; null before the first node. */
  position: { nodeId: string; step: NodeStep } | null;
  previousNodeId?: string;
  variables: Record<string, unknown>;
  transcript: TranscriptEntry[];
  counters: Counters;
  /** Wall-clock epoch ms of the call's start (maxCallSeconds counts from here). */
  callStartedAt: number;
  businessHoursChecked: boolean;
  updatedAt: number;
}

const transcriptEntrySchema = z.object({
  role: z.enum(['caller', 'agent', 'system']),
  text: z.string(),
  heardText: z.string().optional(),
  interrupted: z.boolean().optional(),
  dtmf: z.boolean().optional(),
  nodeId: z.string().optional(),
  at: z.number(),
});

const stepSchema = z.object({ type: z.enum(['say', 'conversation', 'gather', 'branch', 'http', 'transfer', 'end']) }).passthrough();

export const snapshotSchema = z.object({
  schemaVersion: z.literal(SNAPSHOT_SCHEMA_VERSION),
  agent: z.object({ id: z.string(), slug: z.string(), name: z.string(), version: z.number() }),
  call: z.object({ sid: z.string().optional(), from: z.string().optional(), to: z.string().optional() }),
  status: z.enum(['running', 'ended']),
  result: z
    .object({ outcome: z.string(), reason: z.string().optional(), lastNodeId: z.string().optional() })
    .optional(),
  position: z.object({ nodeId: z.string(), step: stepSchema }).nullable(),
  previousNodeId: z.string().optional(),
  variables: z.record(z.string(), z.unknown()),
  transcript: z.array(transcriptEntrySchema),
  counters: z.object({
    steps: z.number(),
    llmRequests: z.number(),
    callerTurns: z.number(),
    agentTurns: z.number(),
    fallbacks: z.number(),
    resumes: z.number(),
    visits: z.record(z.string(), z.number()),
  }),
  callStartedAt: z.number(),
  businessHoursChecked: z.boolean(),
  updatedAt: z.number(),
});

/** Checks a stored snapshot before resuming; a bad one is a clear error, not a crash mid-call. */
export function parseSnapshot(value: unknown): InterpreterSnapshot {
  if (value && typeof value === 'object' && 'schemaVersion' in value && value.schemaVersion !== SNAPSHOT_SCHEMA_VERSION) {
    throw new AppError('BAD_REQUEST', `unsupported interpreter snapshot schemaVersion ${String(value.schemaVersion)}`);
  }
  const parsed = snapshotSchema.safeParse(value);
  if (!parsed.success) {
    throw new AppError('BAD_REQUEST', 'invalid interpreter snapshot', { issues: parsed.error.issues.slice(0, 5) });
  }
  return structuredClone(value) as InterpreterSnapshot;
}

/**
 * A copy of the interpreter's state that no later step can change, for `onSnapshot`
 * (saved in the live call record at every checkpoint) and `snapshot()`.
 *
 * A deep copy of the whole state copied every transcript entry at every
 * checkpoint: quadratic over a long call (bench/README.md#flow-snapshots). Entries are
 * never changed once appended (an agent turn is appended with its heardText and
 * interrupted already known), so they are frozen here and shared between the state
 * and every snapshot: only the array is copied. Everything else that a step
 * changes in place is copied: position (its step and tool log), counters
 * (visits), variables (object values deeply; a template scope may write into one).
 * A field added to InterpreterSnapshot that holds an object needs its copy here.
 */
export function copySnapshot(state: InterpreterSnapshot): InterpreterSnapshot {
  const transcript = state.transcript;
  // Append-only: the entries not frozen yet are the newest, so walking back stops at the first frozen one.
  for (let i = transcript.length - 1; i >= 0 && !Object.isFrozen(transcript[i]); i--) Object.freeze(transcript[i]);
  const variables: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(state.variables)) {
    variables[name] = value !== null && typeof value === 'object' ? structuredClone(value) : value;
  }
  const position = state.position;
  let step: NodeStep | undefined;
  if (position) {
    step = position.step.type === 'conversation'
      ? { ...position.step, toolLog: position.step.toolLog.length ? structuredClone(position.step.toolLog) : [] }
      : { ...position.step };
  }
  return {
    ...state,
    agent: { ...state.agent },
    call: { ...state.call },
    ...(state.result ? { result: { ...state.result } } : {}),
    position: position ? { nodeId: position.nodeId, step: step! } : null,
    variables,
    transcript: transcript.slice(),
    counters: { ...state.counters, visits: { ...state.counters.visits } },
  };
}

export function emptyCounters(): Counters {
  return { steps: 0, llmRequests: 0, callerTurns: 0, agentTurns: 0, fallbacks: 0, resumes: 0, visits: {} };
}

type Loose = { position?: { nodeId?: unknown } | null; variables?: unknown } | null | undefined;

/** The node a saved snapshot stopped in, if it has one (any stored value is accepted). */
export function snapshotNodeId(value: unknown): string | undefined {
  const nodeId = (value as Loose)?.position?.nodeId;
  return typeof nodeId === 'string' ? nodeId : undefined;
}

/** The call variables of a saved snapshot; empty when it has none. */
export function snapshotVariables(value: unknown): Record<string, unknown> {
  const vars = (value as Loose)?.variables;
  return vars && typeof vars === 'object' && !Array.isArray(vars) ? { ...(vars as Record<string, unknown>) } : {};
}
