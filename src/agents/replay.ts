import type { CallHistory } from '../calls/history.js';
import { AppError } from '../core/errors.js';
import type { Flow } from '../flow/schema.js';
import { recordingOf, replayCall, type ReplayMode, type ReplayResult } from '../flow-tests/replay.js';
import type { LlmPort } from '../providers/llm/port.js';
import type { AgentService } from './service.js';

/**
 * Regression replay of an agent's past calls against another version or the
 * draft (docs/api.md#regression-replay): loads the calls from the history, the
 * version each call ran, and replays each (src/flow-tests/replay.ts).
 */
export const MAX_REPLAY_CALLS = 200;

export interface ReplayRequest {
  callIds?: string[] | undefined;
  last?: number | undefined;
  /** Absent: the draft. */
  version?: number | undefined;
  mode: ReplayMode;
}

export interface ReplayReport {
  target: { version: number | null };
  mode: ReplayMode;
  summary: { total: number; same: number; different: number; failed: number };
  calls: ReplayResult[];
}

export async function replayCalls(
  deps: { agents: AgentService; history: CallHistory; llm?: LlmPort | undefined },
  idOrSlug: string,
  request: ReplayRequest,
): Promise<ReplayReport> {
  const agent = await deps.agents.get(idOrSlug);
  let target: Flow;
  if (request.version !== undefined) {
    target = (await deps.agents.getVersion(agent.id, request.version)).flow;
  } else {
    const v = await deps.agents.validate(agent.id);
    if (v.errors.length > 0 || !v.flow) throw new AppError('INVALID_FLOW', 'the draft has errors; fix them before replaying calls against it', { errors: v.errors, warnings: v.warnings });
    target = v.flow;
  }
  if (request.mode === 'live' && !deps.llm) throw new AppError('NOT_CONFIGURED', 'mode "live" needs an LLM: set OPENAI_API_KEY', { variable: 'OPENAI_API_KEY' });

  let sids: string[];
  if (request.callIds) {
    sids = request.callIds;
  } else {
    const page = await deps.history.page({ agentId: agent.id, state: 'ended', limit: Math.min(request.last ?? 1, MAX_REPLAY_CALLS) });
    sids = page.items.map((c) => c.callSid);
  }
  const flows = new Map<number, Flow>();
  const calls: ReplayResult[] = [];
  for (const sid of sids) {
    const record = await deps.history.get(sid);
    if (!record || record.agentId !== agent.id) {
      calls.push({ callSid: sid, status: 'failed', reason: `no call ${sid} of agent ${agent.slug}`, path: [] });
      continue;
    }
    let recorded = flows.get(record.version);
    if (!recorded) {
      recorded = (await deps.agents.getVersion(agent.id, record.version)).flow;
      flows.set(record.version, recorded);
    }
    const recording = recordingOf(sid, agent.id, record.version, await deps.history.events(sid), record.snapshot);
    calls.push(await replayCall(recording, recorded, target, request.mode, deps.llm));
  }
  const count = (s: ReplayResult['status']) => calls.filter((c) => c.status === s).length;
  return {
    target: { version: request.version ?? null },
    mode: request.mode,
    summary: { total: calls.length, same: count('same'), different: count('different'), failed: count('failed') },
    calls,
  };
}
