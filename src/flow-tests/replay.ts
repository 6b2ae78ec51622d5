import type { CallEvent } from '../calls/events.js';
import { ManualClock } from '../core/clock.js';
import type { FlowEvent } from '../flow/events.js';
import type { FetchLike } from '../flow/http-request.js';
import { createInterpreter } from '../flow/interpreter.js';
import { exitFunctions } from '../flow/nodes/conversation.js';
import type { Flow, FlowNode } from '../flow/schema.js';
import { sameNode } from '../agents/version-diff.js';
import { ProviderError } from '../providers/errors.js';
import type { LlmPort, LlmStreamEvent } from '../providers/llm/port.js';
import { firstDivergence } from './assertions.js';
import { CasePort } from './case-port.js';
import type { CallerTurn } from './suite-schema.js';

/**
 * Regression replay (docs/api.md#regression-replay): the caller turns of a
 * recorded call (text and keys, from its history) are played against another
 * flow, and the node path it takes is compared with the recorded one.
 *
 * - `paths`: deterministic. Where a node is unchanged from the recorded
 *   version, the model's recorded replies are reused (the agent's words in
 *   that node, and the exit the call left by); an http node answers as it did
 *   (success with the saved values, or an error). Deterministic nodes (branch,
 *   keys, fast gather answers) are evaluated afresh. Reaching a changed node
 *   that needs the model makes the call `failed` with reason `needs_llm`.
 * - `live`: the configured model answers; http nodes still answer as recorded.
 * Nothing leaves the process but the live model's requests.
 */
export type ReplayMode = 'paths' | 'live';

export interface Recording {
  callSid: string;
  agentId: string;
  version: number;
  /** Nodes entered, in order. */
  path: string[];
  turns: CallerTurn[];
  /** One per node entered: what the agent said there, and the node after it. */
  visits: { nodeId: string; said: string[]; next: string | undefined }[];
  /** The call's variables at its last step (saved values, gathered answers). */
  variables: Record<string, unknown>;
}

export type ReplayResult =
  | { callSid: string; status: 'same'; path: string[] }
  | {
      callSid: string;
      status: 'different';
      /** 0-based step where the paths part, and the node each took there. */
      step: number;
      recordedNode: string | null;
      replayedNode: string | null;
      recordedPath: string[];
      path: string[];
    }
  | { callSid: string; status: 'failed'; reason: string; nodeId?: string; path: string[] };

/** A recorded call's replayable parts, from its history events and last snapshot. */
export function recordingOf(callSid: string, agentId: string, version: number, events: readonly CallEvent[], snapshot: unknown): Recording {
  const path: string[] = [];
  const turns: CallerTurn[] = [];
  const visits: Recording['visits'] = [];
  for (const e of events) {
    if (e.type === 'node.entered') {
      const last = visits[visits.length - 1];
      if (last) last.next = e.nodeId;
      path.push(e.nodeId);
      visits.push({ nodeId: e.nodeId, said: [], next: undefined });
    } else if (e.type === 'turn.agent') {
      const last = visits[visits.length - 1];
      if (last && (e.nodeId === undefined || e.nodeId === last.nodeId) && e.text.trim()) last.said.push(e.text);
    } else if (e.type === 'turn.caller' && !e.backchannel && e.text.trim()) {
      turns.push(e.via === 'dtmf' ? { digits: e.text } : { text: e.text });
    }
  }
  const vars = (snapshot as { variables?: unknown } | undefined)?.variables;
  const variables = vars && typeof vars === 'object' ? (vars as Record<string, unknown>) : {};
  return { callSid, agentId, version, path, turns, visits, variables };
}

class NeedsLlm extends Error {
  constructor(readonly nodeId: string) {
    super(`node ${nodeId} changed (or was not reached in the recorded call) and needs the model: replay with mode "live"`);
  }
}

function setAt(root: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = root;
  for (const p of parts.slice(0, -1)) {
    if (p === '__proto__') return;
    cur[p] = cur[p] && typeof cur[p] === 'object' ? cur[p] : {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

export async function replayCall(recording: Recording, recordedFlow: Flow, target: Flow, mode: ReplayMode, live?: LlmPort): Promise<ReplayResult> {
  const recordedNodes = new Map<string, FlowNode>(recordedFlow.nodes.map((n) => [n.id, n]));
  const targetNodes = new Map<string, FlowNode>(target.nodes.map((n) => [n.id, n]));
  const port = new CasePort(recording.turns, 'transferred');
  const path: string[] = [];
  const visitsSeen = new Map<string, number>();
  let visit: { recorded: Recording['visits'][number] | undefined; rounds: number } = { recorded: undefined, rounds: 0 };
  let needsLlm: NeedsLlm | undefined;

  const onEvent = (e: FlowEvent) => {
    if (e.type !== 'node.entered') return;
    path.push(e.nodeId);
    port.currentNodeId = e.nodeId;
    const k = visitsSeen.get(e.nodeId) ?? 0;
    visitsSeen.set(e.nodeId, k + 1);
    visit = { recorded: recording.visits.filter((v) => v.nodeId === e.nodeId)[k], rounds: 0 };
  };

  /** The recorded model reply for this round of the current node, when the node is unchanged. */
  const recordedReply = (): { text?: string; exit?: string; value?: unknown } => {
    const nodeId = port.currentNodeId ?? '';
    const node = targetNodes.get(nodeId);
    const rec = visit.recorded;
    if (!node || !rec || !sameNode(recordedNodes.get(nodeId), node)) throw new NeedsLlm(nodeId);
    const round = visit.rounds++;
    if (node.type === 'gather') return { value: recording.variables[node.variable] ?? null };
    if (node.type !== 'conversation') throw new NeedsLlm(nodeId);
    const exit = rec.next !== undefined ? exitFunctions(node).find((x) => x.to === rec.next)?.name : undefined;
    const last = Math.max(rec.said.length - 1, 0);
    if (round < last) return { text: rec.said[round]! };
    if (round === last) return { ...(rec.said[round] !== undefined ? { text: rec.said[round] } : {}), ...(exit ? { exit } : {}) };
    throw new NeedsLlm(nodeId);
  };

  const recordedLlm: LlmPort = {
    async *stream(): AsyncGenerator<LlmStreamEvent> {
      let reply;
      try {
        reply = recordedReply();
      } catch (err) {
        if (err instanceof NeedsLlm) needsLlm ??= err;
        throw new ProviderError('fake', 'llm', 'not_configured', 'no recorded reply');
      }
      if (reply.value !== undefined) yield { type: 'text', text: JSON.stringify({ value: reply.value }) };
      if (reply.text) yield { type: 'text', text: reply.text };
      if (reply.exit) yield { type: 'tool_call', call: { id: `replay_${path.length}`, name: reply.exit, arguments: '{}' } };
      yield { type: 'done', finishReason: reply.exit ? 'tool_calls' : 'stop' };
    },
  };

  // http nodes answer as they did: success with the saved values, or an error.
  const http: FetchLike = async () => {
    const nodeId = port.currentNodeId ?? '';
    const node = targetNodes.get(nodeId);
    const rec = visit.recorded;
    if (node?.type === 'http' && rec && rec.next === node.next) {
      const body: Record<string, unknown> = {};
      for (const [name, at] of Object.entries(node.save)) if (name in recording.variables) setAt(body, at, recording.variables[name]);
      return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
    }
    return new Response('{}', { status: 503, headers: { 'content-type': 'application/json' } });
  };

  const interpreter = createInterpreter({
    flow: target,
    agent: { id: recording.agentId, slug: 'replay', name: target.name, version: recording.version },
    call: { sid: recording.callSid },
    port,
    llm: mode === 'live' && live ? live : recordedLlm,
    clock: new ManualClock(),
    http,
    onEvent,
  });
  const result = await interpreter.run();
  if (needsLlm && mode === 'paths') return { callSid: recording.callSid, status: 'failed', reason: 'needs_llm', nodeId: needsLlm.nodeId, path };
  if (port.problems.length > 0) {
    const p = port.problems[0]!;
    return { callSid: recording.callSid, status: 'failed', reason: p.message, ...(p.nodeId ? { nodeId: p.nodeId } : {}), path };
  }
  if (result.outcome === 'failed' && result.reason === 'internal_error') return { callSid: recording.callSid, status: 'failed', reason: 'internal_error', path };
  const step = firstDivergence(recording.path, path);
  if (step < 0) return { callSid: recording.callSid, status: 'same', path };
  return {
    callSid: recording.callSid,
    status: 'different',
    step,
    recordedNode: recording.path[step] ?? null,
    replayedNode: path[step] ?? null,
    recordedPath: recording.path,
    path,
  };
}
