import { ManualClock } from '../core/clock.js';
import type { FlowEvent, RunOutcome } from '../flow/events.js';
import type { FetchLike } from '../flow/http-request.js';
import { createInterpreter } from '../flow/interpreter.js';
import type { TransferTarget } from '../flow/port.js';
import type { Flow } from '../flow/schema.js';
import { ScriptedLlm, type ScriptedTurn } from '../providers/llm/fake.js';
import type { LlmPort } from '../providers/llm/port.js';
import { CasePort, type ScriptProblem, type Utterance } from './case-port.js';
import type { FlowTestCase, HttpReply, LlmReply } from './suite-schema.js';

/**
 * Runs one test case: the flow's interpreter, exactly as a call runs it, with
 * a scripted caller (CasePort), scripted model replies (or the live LLM) and
 * scripted HTTP replies, on a manual clock so nothing waits on real time.
 * HTTP never leaves the process: a test must not book real appointments.
 */

/** The default moment of a test call: a Monday afternoon, inside most business hours. */
export const DEFAULT_CASE_TIME = '2026-01-05T15:00:00Z';
/** The pretend caller's number, for {{caller.number}}. */
export const DEFAULT_CASE_CALLER = '+15550100100';
/** A scripted `timeout` HTTP reply lets this much (manual) time pass: longer than any request timeout allowed. */
const HTTP_TIMEOUT_ADVANCE_MS = 61_000;

export interface CaseRun {
  /** Every node entered, in order. */
  path: string[];
  variables: Record<string, unknown>;
  utterances: Utterance[];
  /** The last transfer the flow asked for; null when none. */
  transfer: TransferTarget | null;
  outcome: RunOutcome;
  reason?: string;
  turns: { caller: number; agent: number };
  /** Script mismatches: turns that did not fit, model replies run out, HTTP requests with no reply. */
  problems: ScriptProblem[];
  unused: { turns: number; llm: number };
  http: { method: string; url: string; status: number | 'network' | 'timeout' | 'unscripted' }[];
}

export interface RunCaseOptions {
  /** The live model; without it the case's scripted replies are used. */
  llm?: LlmPort;
  agent?: { id?: string; slug: string; name?: string; version?: number };
}

function scriptedTurn(reply: LlmReply): ScriptedTurn {
  if (reply.error) return { error: reply.error };
  const toolCalls = [
    ...(reply.toolCalls ?? []).map((t) => ({ name: t.name, arguments: t.arguments })),
    ...(reply.exit ? [{ name: reply.exit, arguments: {} }] : []),
  ];
  const text = reply.value !== undefined ? JSON.stringify({ value: reply.value }) : reply.text;
  return { ...(text !== undefined ? { text } : {}), ...(toolCalls.length ? { toolCalls } : {}) };
}

function matchesRequest(reply: HttpReply, method: string, url: string): boolean {
  return (reply.method === undefined || reply.method === method) && url.startsWith(reply.url);
}

function caseFetch(replies: readonly HttpReply[], clock: ManualClock, run: CaseRun, problem: (message: string) => void): FetchLike {
  return async (url, init) => {
    const method = (init.method ?? 'GET').toUpperCase();
    const reply = replies.find((r) => matchesRequest(r, method, url));
    if (!reply) {
      run.http.push({ method, url, status: 'unscripted' });
      problem(`no scripted HTTP reply for ${method} ${url}: add one to the case's "http"`);
      throw new TypeError('no scripted reply');
    }
    if (reply.error === 'network') {
      run.http.push({ method, url, status: 'network' });
      throw new TypeError('network error (scripted)');
    }
    if (reply.error === 'timeout') {
      run.http.push({ method, url, status: 'timeout' });
      const signal = init.signal;
      const aborted = new Promise<never>((_, reject) => {
        if (signal?.aborted) reject(signal.reason);
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
      void clock.advance(HTTP_TIMEOUT_ADVANCE_MS);
      return aborted;
    }
    run.http.push({ method, url, status: reply.status });
    const body = reply.body === undefined ? '' : JSON.stringify(reply.body);
    return new Response(reply.status === 204 || reply.status === 304 ? null : body, {
      status: reply.status,
      headers: { 'content-type': 'application/json' },
    });
  };
}

export async function runCase(flow: Flow, testCase: FlowTestCase, options: RunCaseOptions = {}): Promise<CaseRun> {
  const clock = new ManualClock(Date.parse(testCase.at ?? DEFAULT_CASE_TIME));
  const port = new CasePort(testCase.turns, testCase.transfers);
  const run: CaseRun = {
    path: [],
    variables: {},
    utterances: port.utterances,
    transfer: null,
    outcome: 'aborted',
    turns: { caller: 0, agent: 0 },
    problems: port.problems,
    unused: { turns: 0, llm: 0 },
    http: [],
  };
  const problem = (message: string) => port.problems.push({ nodeId: port.currentNodeId, message });
  let llmRequests = 0;
  const scripted = new ScriptedLlm(testCase.llm.map(scriptedTurn), {
    whenEmpty: () => {
      problem(`the flow asked the model for reply ${llmRequests} but the case scripts only ${testCase.llm.length}: add one to "llm"`);
      return { error: 'server_error' };
    },
  });
  const llm: LlmPort = options.llm ?? {
    stream(request) {
      llmRequests++;
      return scripted.stream(request);
    },
  };
  const flowWithVariables: Flow = testCase.variables
    ? { ...flow, settings: { ...flow.settings, variables: { ...flow.settings.variables, ...testCase.variables } } }
    : flow;
  const onEvent = (e: FlowEvent) => {
    if (e.type === 'node.entered') {
      run.path.push(e.nodeId);
      port.currentNodeId = e.nodeId;
    } else if (e.type === 'transfer.requested') {
      run.transfer = e.target;
    }
  };
  const slug = options.agent?.slug ?? 'test';
  const interpreter = createInterpreter({
    flow: flowWithVariables,
    agent: { id: options.agent?.id ?? `test:${slug}`, slug, name: options.agent?.name ?? flow.name, version: options.agent?.version ?? 0 },
    call: { sid: 'CAtest', from: testCase.caller ?? DEFAULT_CASE_CALLER, to: '+15550100001' },
    port,
    llm,
    clock,
    http: caseFetch(testCase.http, clock, run, problem),
    onEvent,
  });
  const result = await interpreter.run();
  const snapshot = interpreter.snapshot();
  run.outcome = result.outcome;
  if (result.reason !== undefined) run.reason = result.reason;
  run.variables = snapshot.variables;
  run.turns = { caller: snapshot.counters.callerTurns, agent: snapshot.counters.agentTurns };
  run.unused = { turns: port.unusedTurns, llm: options.llm ? 0 : scripted.remaining };
  return run;
}
