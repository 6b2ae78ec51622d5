import { ManualClock, type Clock } from '../../../src/core/clock.js';
import type { FlowEvent } from '../../../src/flow/events.js';
import { createInterpreter, type InterpreterOptions } from '../../../src/flow/interpreter.js';
import { flowSchema, type Flow, type FlowInput } from '../../../src/flow/schema.js';
import type { InterpreterSnapshot } from '../../../src/flow/snapshot.js';
import type { LlmPort } from '../../../src/providers/llm/port.js';
import { ScriptedPort, type ListenStep } from '../../support/scripted-port.js';

/** Shared set-up for interpreter tests: a parsed flow, a scripted port and a manual clock. */
export function makeFlow(nodes: FlowInput['nodes'], settings: FlowInput['settings'] = {}, start?: string): Flow {
  return flowSchema.parse({ version: 1, name: 'Test flow', settings, start: start ?? nodes[0]!.id, nodes });
}

export const AGENT = { id: 'agent-1', slug: 'test', name: 'Test Agent', version: 1 };
export const CALL = { sid: 'CA123', from: '+15550100999', to: '+15550100001' };

export interface Harness {
  port: ScriptedPort;
  clock: Clock;
  events: FlowEvent[];
  snapshots: InterpreterSnapshot[];
  interpreter: ReturnType<typeof createInterpreter>;
  eventsOf<T extends FlowEvent['type']>(type: T): Extract<FlowEvent, { type: T }>[];
  nodesEntered(): string[];
}

export function harness(
  flow: Flow,
  opts: { inputs?: ListenStep[]; port?: ScriptedPort; llm?: LlmPort; clock?: Clock } & Partial<Omit<InterpreterOptions, 'port' | 'llm' | 'clock' | 'flow'>> = {},
): Harness {
  const port = opts.port ?? new ScriptedPort({ inputs: opts.inputs ?? [] });
  const clock = opts.clock ?? new ManualClock();
  const events: FlowEvent[] = [];
  const snapshots: InterpreterSnapshot[] = [];
  const { inputs: _i, port: _p, llm, clock: _c, ...rest } = opts;
  const interpreter = createInterpreter({
    flow,
    agent: AGENT,
    call: CALL,
    port,
    clock,
    ...(llm ? { llm } : {}),
    ...rest,
    onEvent: (e) => events.push(e),
    onSnapshot: (s) => snapshots.push(JSON.parse(JSON.stringify(s)) as InterpreterSnapshot),
  });
  return {
    port,
    clock,
    events,
    snapshots,
    interpreter,
    eventsOf: (type) => events.filter((e) => e.type === type) as never,
    nodesEntered: () => events.filter((e) => e.type === 'node.entered').map((e) => (e as { nodeId: string }).nodeId),
  };
}
