import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { isProviderError, ProviderError } from '../providers/errors.js';
import type { LlmPort, LlmRequest, LlmStreamEvent } from '../providers/llm/port.js';
import { CallBudget } from './budget.js';
import { isOpen, zonedParts } from './business-hours.js';
import type { FlowEvent, RunResult } from './events.js';
import type { FetchLike } from './http-request.js';
import { createKnowledgeIndex, type KnowledgeIndex } from './knowledge.js';
import { createOutboundFetch } from './outbound.js';
import { runBranch } from './nodes/branch.js';
import type { AnyNodeHandler, CallerInput, NodeContext, SayParams, Transition } from './nodes/context.js';
import { FlowStop } from './nodes/context.js';
import { runConversation } from './nodes/conversation.js';
import { runEnd } from './nodes/end.js';
import { runGather } from './nodes/gather.js';
import { runHttp } from './nodes/http.js';
import { runSay } from './nodes/say.js';
import { runTransfer } from './nodes/transfer.js';
import type { InterpreterPort, ListenOptions, SayResult } from './port.js';
import type { Flow, FlowNode, NodeType } from './schema.js';
import {
  copySnapshot,
  emptyCounters,
  parseSnapshot,
  SNAPSHOT_SCHEMA_VERSION,
  type AgentRef,
  type CallRef,
  type InterpreterSnapshot,
  type NodeStep,
} from './snapshot.js';
import { hasPlaceholders, lookup, render, type Variables } from './template.js';

/**
 * The flow interpreter: drives one call through a Flow, talking to the channel
 * only through the InterpreterPort and to the model through an optional LlmPort.
 *
 * ```ts
 * const it = createInterpreter({ flow, agent: { id, slug, name, version }, call: { sid, from, to },
 *   port, llm, clock, onEvent, onSnapshot });
 * const result = await it.run();            // or: await it.resume(savedSnapshot)
 * it.abort('assume');                       // ends quietly; the snapshot stays resumable
 * ```
 *
 * - `run()` starts at `flow.start` (after the business-hours check); `resume(snapshot)`
 *   continues at the snapshot's node and step. A snapshot that has ended (e.g. a
 *   finished transfer), one from another agent, or one whose node is gone starts
 *   at `flow.start` (or `options.at`) keeping variables and transcript.
 * - `onSnapshot` gets a JSON-serialisable snapshot after every step; `onEvent` the FlowEvents.
 * - Only one of run/resume per interpreter.
 * - Outcomes: completed (end node), transferred, hangup (caller or silence), max_duration,
 *   failed (fallback message spoken), closed (outside business hours with no closedNode:
 *   the channel plays the unavailable behaviour), aborted (abort(); nothing is said).
 * - The port gets original text; channels apply `applyPronunciations` before synthesis.
 */
export interface InterpreterOptions {
  flow: Flow;
  agent: AgentRef;
  call?: CallRef;
  port: InterpreterPort;
  llm?: LlmPort;
  clock: Clock;
  http?: FetchLike;
  logger?: Logger;
  onEvent?: (event: FlowEvent) => void;
  onSnapshot?: (snapshot: InterpreterSnapshot) => void;
  /** Aborting it is the same as `abort(signal.reason)`. */
  signal?: AbortSignal;
}

export interface ResumeOptions {
  /** Continue at this node instead of where the snapshot stopped. */
  at?: string;
  /**
   * The call comes back because something failed (e.g. nobody took a
   * transfer): without `at`, the flow's fallback is taken, as for any failure.
   */
  failed?: string;
}

/** Failures of the channel that the flow recovers from through its fallback. */
export type ChannelFailure = 'stt_failed' | 'tts_failed';

export interface Interpreter {
  /**
   * `variables`: the call's own (an outbound request's, `call.answeredBy`);
   * they override the flow's defaults, and the built-ins override them.
   */
  run(variables?: Readonly<Record<string, unknown>>): Promise<RunResult>;
  resume(snapshot: unknown, options?: ResumeOptions): Promise<RunResult>;
  snapshot(): InterpreterSnapshot;
  /** Ends quietly (outcome `aborted`): nothing more is said and the snapshot stays resumable. */
  abort(reason?: string): void;
  /**
   * The channel lost speech input (`stt_failed`) or speech output
   * (`tts_failed`) for good: the current step stops and the flow's fallback
   * runs. Speech output failures skip `fallbackNode` (it would speak through
   * the broken voice) and go straight to `fallbackMessage`.
   */
  fail(reason: ChannelFailure): void;
}

/** AMD verdicts that mean a machine's greeting has ended: a voicemail can be left now (docs/outbound.md). */
export function isMachineEnd(answeredBy: unknown): boolean {
  return typeof answeredBy === 'string' && answeredBy.startsWith('machine_end_');
}

/** Times the fallback node may be taken in one call, so a failing fallback cannot loop. */
export const MAX_FALLBACKS = 3;

const HANDLERS: Record<NodeType, AnyNodeHandler> = {
  say: runSay as AnyNodeHandler,
  conversation: runConversation as AnyNodeHandler,
  gather: runGather as AnyNodeHandler,
  branch: runBranch as AnyNodeHandler,
  http: runHttp as AnyNodeHandler,
  transfer: runTransfer as AnyNodeHandler,
  end: runEnd as AnyNodeHandler,
};

const WEEKDAY_NAMES: Record<string, string> = {
  sun: 'Sunday', mon: 'Monday', tue: 'Tuesday', wed: 'Wednesday', thu: 'Thursday', fri: 'Friday', sat: 'Saturday',
};

export function initialStep(type: NodeType): NodeStep {
  switch (type) {
    case 'conversation':
      return { type, phase: 'opening', turns: 0, spokeFirst: false, toolLog: [] };
    case 'gather':
      return { type, attempt: 0 };
    case 'transfer':
      return { type, phase: 'announce' };
    default:
      return { type };
  }
}

/**
 * Writes `value` at a dotted path of a template scope under construction. Objects on the way
 * that the scope did not make here (`made`) are the call's own variable values: they are copied
 * before a dotted name is written into them, so rendering never changes the call's variables.
 */
function setPath(root: Record<string, unknown>, path: string, value: unknown, made: Set<object>): void {
  const parts = path.split('.');
  let cur: Record<string, unknown> = root;
  // `__proto__` would reach Object.prototype (a saved name is the builder's text).
  if (parts.includes('__proto__')) return;
  for (const part of parts.slice(0, -1)) {
    const next = Object.hasOwn(cur, part) ? cur[part] : undefined;
    if (next === null || (next !== undefined && (typeof next !== 'object' || Array.isArray(next)))) return; // a scalar owns the name
    if (next === undefined || !made.has(next)) {
      const own: Record<string, unknown> = next === undefined ? {} : { ...(next as Record<string, unknown>) };
      made.add(own);
      cur[part] = own;
    }
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

const notConfiguredLlm: LlmPort = {
  // eslint-disable-next-line require-yield
  async *stream() {
    throw new ProviderError('openai', 'llm', 'not_configured', 'no LLM is configured: set OPENAI_API_KEY');
  },
};

/** A channel failure stops the current step; `drive` then takes the fallback. */
class ChannelFailureStop extends FlowStop {
  constructor(override readonly reason: ChannelFailure) {
    super('failed', reason);
  }
}

export function createInterpreter(options: InterpreterOptions): Interpreter {
  const { flow, port, clock } = options;
  const settings = flow.settings;
  const logger = options.logger ?? silentLogger;
  const llm = options.llm ?? notConfiguredLlm;
  // Internal destinations are refused unless the channel passes an allow-list (./outbound.ts).
  const http: FetchLike = options.http ?? createOutboundFetch();
  const nodesById = new Map<string, FlowNode>(flow.nodes.map((n) => [n.id, n]));
  const zone = settings.businessHours?.timezone ?? 'UTC';

  // Replaced after a channel failure so the fallback can still speak.
  let runAbort = new AbortController();
  let pendingStop: FlowStop | undefined;
  let stopAfterFailure: FlowStop | undefined;
  let started = false;
  let finished: RunResult | undefined;
  // Steps and agent speech since the caller last had a turn (./budget.ts).
  const budget = new CallBudget();
  let kbIndex: KnowledgeIndex | undefined;

  const now = clock.wallNow();
  let state: InterpreterSnapshot = {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    agent: { ...options.agent },
    call: { ...(options.call ?? {}) },
    status: 'running',
    position: null,
    variables: {},
    transcript: [],
    counters: emptyCounters(),
    callStartedAt: now,
    businessHoursChecked: false,
    updatedAt: now,
  };

  const emit = (event: FlowEvent) => {
    try {
      options.onEvent?.(event);
    } catch (err) {
      logger.warn({ err, event: event.type }, 'flow event listener failed');
    }
  };

  const snapshot = (): InterpreterSnapshot => {
    state.updatedAt = clock.wallNow();
    return copySnapshot(state);
  };

  const checkpoint = () => {
    if (!options.onSnapshot) return;
    try {
      options.onSnapshot(snapshot());
    } catch (err) {
      logger.warn({ err }, 'snapshot listener failed');
    }
  };

  const stopWith = (stop: FlowStop) => {
    if (runAbort.signal.aborted) {
      // A stop during a channel failure (hang-up, shutdown) wins over its fallback.
      if (pendingStop instanceof ChannelFailureStop && !(stop instanceof ChannelFailureStop)) stopAfterFailure ??= stop;
      return;
    }
    pendingStop = stop;
    runAbort.abort(stop);
  };

  const checkAbort = () => {
    if (runAbort.signal.aborted) throw pendingStop ?? new FlowStop('aborted', 'aborted');
  };

  const currentNodeId = () => state.position?.nodeId ?? '';

  const scope = (extra?: Variables): Variables => {
    const root: Record<string, unknown> = {};
    const made = new Set<object>();
    for (const [k, v] of Object.entries(state.variables)) setPath(root, k, v, made);
    if (root.now === undefined) {
      const p = zonedParts(clock.wallNow(), zone);
      root.now = { date: p.date, time: p.time, weekday: WEEKDAY_NAMES[p.weekday] };
    }
    return extra ? { ...root, ...extra } : root;
  };

  const setVariable = (name: string, value: unknown) => {
    if (name.split('.').includes('__proto__')) return; // not a variable: it would replace the record's prototype
    state.variables[name] = value;
    emit({ type: 'variable.set', name, value, nodeId: currentNodeId() });
  };

  const say = async (text: string | AsyncIterable<string>, params: SayParams): Promise<SayResult & { text: string }> => {
    checkAbort();
    let full = typeof text === 'string' ? text : '';
    if (typeof text === 'string' && !text.trim()) return { outcome: 'played', heardText: '', text: '' };
    const source =
      typeof text === 'string'
        ? text
        : (async function* tee() {
            for await (const chunk of text) {
              full += chunk;
              yield chunk;
            }
          })();
    let result: SayResult;
    const sayStarted = clock.now();
    try {
      result = await port.say(source, {
        interruptible: params.interruptible,
        cacheable: params.cacheable,
        ...(params.stopOnDtmf ? { stopOnDtmf: true } : {}),
        signal: runAbort.signal,
      });
    } catch (err) {
      checkAbort();
      throw err;
    }
    budget.spoke(full, clock.now() - sayStarted);
    const interrupted = result.outcome !== 'played';
    if (full || result.heardText) {
      state.transcript.push({
        role: 'agent',
        text: full,
        heardText: result.heardText,
        ...(interrupted ? { interrupted: true } : {}),
        nodeId: currentNodeId(),
        at: clock.wallNow(),
      });
      state.counters.agentTurns++;
      emit({ type: 'turn.agent', nodeId: currentNodeId(), text: full, heardText: result.heardText, interrupted });
    }
    if (result.outcome === 'aborted') checkAbort();
    return { ...result, text: full };
  };

  const listen = async (opts: Omit<ListenOptions, 'signal'>): Promise<CallerInput> => {
    checkAbort();
    budget.listened();
    let result;
    try {
      result = await port.listen({ ...opts, signal: runAbort.signal });
    } catch (err) {
      checkAbort();
      throw err;
    }
    checkAbort();
    if (result.kind === 'hangup') throw new FlowStop('hangup', 'caller');
    if (result.kind === 'timeout') return result;
    const nodeId = currentNodeId();
    if (result.kind === 'speech') {
      state.transcript.push({ role: 'caller', text: result.text, nodeId, at: clock.wallNow() });
      emit({ type: 'turn.caller', nodeId, text: result.text });
    } else {
      state.transcript.push({ role: 'caller', text: result.digits, dtmf: true, nodeId, at: clock.wallNow() });
      emit({ type: 'turn.caller', nodeId, digits: result.digits });
    }
    state.counters.callerTurns++;
    return result;
  };

  const hangup = async (reason: string) => {
    try {
      await port.hangup(reason);
    } catch (err) {
      logger.warn({ err }, 'hangup failed');
    }
  };

  const listenWithSilencePolicy: NodeContext['listenWithSilencePolicy'] = async (opts) => {
    const { repromptAfterMs, hangupAfterMs, reprompt } = settings.silence;
    let waitedMs = 0;
    let reprompted = false;
    for (;;) {
      const timeoutMs = reprompted ? hangupAfterMs - waitedMs : Math.min(repromptAfterMs, hangupAfterMs);
      const input = await listen({ ...opts, timeoutMs });
      if (input.kind !== 'timeout') return input;
      waitedMs += timeoutMs;
      if (reprompted || waitedMs >= hangupAfterMs) {
        await hangup('silence');
        throw new FlowStop('hangup', 'silence');
      }
      await say(render(reprompt, scope()), { interruptible: true, cacheable: !hasPlaceholders(reprompt) });
      reprompted = true;
    }
  };

  const llmStream = (request: LlmRequest): AsyncIterable<LlmStreamEvent> => {
    state.counters.llmRequests++;
    return llm.stream({ ...request, signal: request.signal ?? runAbort.signal });
  };

  const knowledge = (query: string) => {
    const kb = settings.knowledgeBase;
    if (!kb || kb.documents.length === 0) return [];
    kbIndex ??= createKnowledgeIndex(kb.documents.filter((d): d is { id: string; title?: string; text: string } => 'text' in d));
    return kbIndex.search(query, kb.topK);
  };

  const ctx: NodeContext = {
    flow,
    settings,
    port: {
      say: port.say.bind(port),
      listen: port.listen.bind(port),
      hangup: port.hangup.bind(port),
      transfer: port.transfer.bind(port),
    },
    clock,
    http,
    logger,
    get signal() {
      return runAbort.signal;
    },
    get state() {
      return state;
    },
    get nodeId() {
      return currentNodeId();
    },
    step<T extends NodeStep['type']>(type: T) {
      const step = state.position?.step;
      if (!step || step.type !== type) throw new Error(`interpreter: node step is ${step?.type}, expected ${type}`);
      return step as Extract<NodeStep, { type: T }>;
    },
    scope,
    render: (template, extra) => render(template, scope(extra)),
    resolve: (name) => (Object.hasOwn(state.variables, name) ? state.variables[name] : lookup(scope(), name)),
    setVariable,
    say,
    listen,
    listenWithSilencePolicy,
    llmStream,
    knowledge,
    today: () => {
      const p = zonedParts(clock.wallNow(), zone);
      return { date: p.date, weekday: WEEKDAY_NAMES[p.weekday]! };
    },
    emit,
    checkpoint,
    checkAbort,
  };

  const enter = (nodeId: string) => {
    const node = nodesById.get(nodeId);
    if (!node) throw new FlowStop('failed', `unknown_node:${nodeId}`);
    const spent = budget.step();
    if (spent) {
      logger.warn({ nodeId, ...budget.spent() }, 'flow ran without waiting for the caller; ending with the fallback');
      throw new FlowStop('failed', spent);
    }
    const from = state.position?.nodeId;
    if (from) state.previousNodeId = from;
    state.position = { nodeId, step: initialStep(node.type) };
    state.counters.steps++;
    state.counters.visits[nodeId] = (state.counters.visits[nodeId] ?? 0) + 1;
    emit({ type: 'node.entered', nodeId, nodeType: node.type, ...(from ? { from } : {}) });
    checkpoint();
  };

  const finish = (result: RunResult): RunResult => {
    const full: RunResult = { ...result, ...(state.position ? { lastNodeId: state.position.nodeId } : {}) };
    finished = full;
    // An aborted run stays resumable where it stopped.
    if (full.outcome !== 'aborted') state.status = 'ended';
    state.result = full;
    emit({ type: 'flow.ended', outcome: full.outcome, ...(full.reason ? { reason: full.reason } : {}), ...(full.lastNodeId ? { nodeId: full.lastNodeId } : {}) });
    checkpoint();
    return full;
  };

  /** The end of the line: fallbackMessage with the call's variables, hang up, outcome failed. */
  const speakFallbackAndEnd = async (reason: string): Promise<RunResult> => {
    const message = settings.fallbackMessage;
    emit({ type: 'flow.fallback', reason, ...(state.position ? { nodeId: state.position.nodeId } : {}) });
    await say(render(message, scope()), { interruptible: false, cacheable: !hasPlaceholders(message) });
    await hangup('fallback');
    return finish({ outcome: 'failed', reason });
  };

  /**
   * The one fallback path for every failure (a failure transition without an
   * edge, a lost voice or ear, a call back from a transfer nobody took):
   * `fallbackNode` when allowed, never from itself and at most MAX_FALLBACKS
   * times a call; otherwise `fallbackMessage` and hang up. Returns undefined
   * when the flow goes on at the fallback node.
   */
  const takeFallback = async (reason: string, nodeAllowed = true): Promise<RunResult | undefined> => {
    const to = settings.fallbackNode;
    if (nodeAllowed && to && to !== currentNodeId() && state.counters.fallbacks < MAX_FALLBACKS) {
      state.counters.fallbacks++;
      logger.warn({ reason, fallbackNode: to }, 'taking the flow fallback node');
      emit({ type: 'flow.fallback', reason, ...(state.position ? { nodeId: state.position.nodeId } : {}), fallbackNode: to });
      enter(to);
      return undefined;
    }
    return speakFallbackAndEnd(reason);
  };

  let detachExternal = () => {};
  if (options.signal) {
    const external = options.signal;
    const onExternalAbort = () => {
      if (!finished) stopWith(new FlowStop('aborted', typeof external.reason === 'string' ? external.reason : 'aborted'));
    };
    if (external.aborted) onExternalAbort();
    else external.addEventListener('abort', onExternalAbort, { once: true });
    detachExternal = () => external.removeEventListener('abort', onExternalAbort);
  }

  const remainingMs = () => settings.maxCallSeconds * 1000 - (clock.wallNow() - state.callStartedAt);

  const drive = async (first: () => RunResult | undefined | Promise<RunResult | undefined>): Promise<RunResult> => {
    const timer = clock.setTimeout(() => stopWith(new FlowStop('max_duration', 'max_call_seconds')), Math.max(0, remainingMs()));
    try {
      const early = await first();
      if (early) return early;
      for (;;) {
        try {
          return await steps();
        } catch (err) {
          // A channel failure: the step stopped; the fallback runs with a fresh signal.
          if (!(err instanceof ChannelFailureStop) || finished) throw err;
          if (stopAfterFailure) throw stopAfterFailure;
          runAbort = new AbortController();
          pendingStop = undefined;
          const done = await takeFallback(err.reason, err.reason !== 'tts_failed');
          if (done) return done;
        }
      }
    } catch (err) {
      return await settle(err);
    } finally {
      timer.cancel();
      detachExternal();
    }
  };

  /** Runs nodes until the flow ends; throws FlowStop (or anything else) when it stops early. */
  const steps = async (): Promise<RunResult> => {
      for (;;) {
        checkAbort();
        if (remainingMs() <= 0) throw new FlowStop('max_duration', 'max_call_seconds');
        const node = nodesById.get(currentNodeId());
        if (!node) throw new FlowStop('failed', `unknown_node:${currentNodeId()}`);
        let t: Transition;
        try {
          t = await HANDLERS[node.type](node, ctx);
        } catch (err) {
          if (!isProviderError(err, 'llm') || runAbort.signal.aborted) throw err;
          logger.warn({ nodeId: node.id, kind: err.kind, err: err.message }, 'LLM failed; taking the fallback');
          emit({ type: 'llm.failed', nodeId: node.id, kind: err.kind, message: err.message });
          t = { kind: 'fail', edge: undefined, reason: 'llm_failed' };
        }
        checkAbort();
        if (t.kind === 'end') return finish({ outcome: t.outcome, ...(t.reason ? { reason: t.reason } : {}) });
        if (t.kind === 'next') {
          enter(t.to);
        } else if (t.edge) {
          enter(t.edge);
        } else {
          const done = await takeFallback(t.reason);
          if (done) return done;
        }
      }
  };

  /** How a run that stopped early ends. */
  const settle = async (err: unknown): Promise<RunResult> => {
      const stop = err instanceof FlowStop ? err : runAbort.signal.aborted && pendingStop ? pendingStop : undefined;
      if (stop) {
        if (stop.outcome === 'max_duration') await hangup('max_duration');
        if (stop.outcome === 'failed') {
          // A flow defect (loop, unknown node): the caller still hears the fallback.
          try {
            if (!runAbort.signal.aborted) return await speakFallbackAndEnd(stop.reason);
          } catch {
            // fall through to a plain failure
          }
        }
        return finish({ outcome: stop.outcome, reason: stop.reason });
      }
      logger.error({ err, nodeId: currentNodeId() }, 'interpreter failed');
      try {
        if (!runAbort.signal.aborted) return await speakFallbackAndEnd('internal_error');
      } catch {
        // the port itself is failing; nothing more can be said
      }
      return finish({ outcome: 'failed', reason: 'internal_error' });
  };

  const begin = () => {
    if (started) throw new Error('interpreter: run/resume may be called only once');
    started = true;
  };

  return {
    run(variables) {
      begin();
      for (const [k, v] of Object.entries(settings.variables)) state.variables[k] = v;
      for (const [k, v] of Object.entries(variables ?? {})) state.variables[k] = v;
      const { call, agent } = state;
      if (call.from !== undefined) state.variables['caller.number'] = call.from;
      if (call.to !== undefined) state.variables['caller.to'] = call.to;
      if (call.sid !== undefined) state.variables['call.sid'] = call.sid;
      state.variables['agent.name'] = agent.name;
      return drive(async () => {
        // An answering machine picked up and its beep has sounded: leave the message instead of running the flow.
        const voicemail = settings.voicemail;
        if (voicemail && isMachineEnd(state.variables['call.answeredBy'])) {
          await say(render(voicemail.message, scope()), { interruptible: false, cacheable: !hasPlaceholders(voicemail.message) });
          await hangup('voicemail');
          return finish({ outcome: 'completed', reason: 'voicemail' });
        }
        const hours = settings.businessHours;
        if (hours && !state.businessHoursChecked) {
          state.businessHoursChecked = true;
          if (!isOpen(hours, clock.wallNow())) {
            if (hours.closedNode) {
              enter(hours.closedNode);
              return undefined;
            }
            return finish({ outcome: 'closed', reason: 'business_hours' });
          }
        }
        state.businessHoursChecked = true;
        enter(flow.start);
        return undefined;
      });
    },

    resume(raw, resumeOptions) {
      begin();
      let saved: InterpreterSnapshot;
      try {
        saved = parseSnapshot(raw);
      } catch (err) {
        return Promise.reject(err instanceof AppError ? err : new AppError('BAD_REQUEST', 'invalid interpreter snapshot'));
      }
      const sameAgent = saved.agent.id === options.agent.id;
      const call: CallRef = { ...saved.call };
      for (const [k, v] of Object.entries(options.call ?? {})) if (v !== undefined) (call as Record<string, unknown>)[k] = v;
      state = { ...saved, agent: { ...options.agent }, call, status: 'running' };
      delete state.result;
      state.counters.resumes++;
      return drive(() => {
        const pos = saved.position;
        const node = pos ? nodesById.get(pos.nodeId) : undefined;
        const at = resumeOptions?.at;
        if (at) {
          enter(at);
        } else if (resumeOptions?.failed) {
          return takeFallback(resumeOptions.failed);
        } else if (saved.status === 'ended' || !sameAgent || !pos || !node || node.type !== pos.step.type) {
          enter(flow.start);
        } else {
          emit({ type: 'node.entered', nodeId: node.id, nodeType: node.type, resumed: true });
          checkpoint();
        }
        return undefined;
      });
    },

    snapshot,

    abort(reason = 'aborted') {
      if (finished) return;
      stopWith(new FlowStop('aborted', reason));
    },

    fail(reason) {
      if (finished) return;
      logger.warn({ reason, nodeId: currentNodeId() }, 'channel failure; taking the flow fallback');
      stopWith(new ChannelFailureStop(reason));
    },
  };
}
