import type { Calls } from '../calls/calls.js';
import type { CallRecord } from '../calls/call-record.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { FlowEvent, RunResult } from '../flow/events.js';
import type { FetchLike } from '../flow/http-request.js';
import { createInterpreter } from '../flow/interpreter.js';
import type { Flow } from '../flow/schema.js';
import { hasPlaceholders, render } from '../flow/template.js';
import type { LlmPort } from '../providers/llm/port.js';
import type { CallSession } from './call-session.js';

/**
 * Runs the flow of one call on its session: starts the interpreter (or
 * resumes the saved snapshot when the call comes back to the AI), saves the
 * snapshot after each step, and turns flow events into call events.
 */
export interface RunCallOptions {
  session: CallSession;
  record: CallRecord;
  flow: Flow;
  agentName: string;
  calls: Calls;
  clock: Clock;
  logger: Logger;
  llm?: LlmPort;
  /** The transport of http nodes and tools (default: internal destinations refused). */
  http?: FetchLike;
}

export async function runCall(options: RunCallOptions): Promise<RunResult> {
  const { session, record, flow, calls, clock, logger } = options;
  const callSid = record.callSid;
  // Snapshots are saved in order; a slow save must not reorder them.
  let saving: Promise<void> = Promise.resolve();
  const newInterpreter = () => {
    const it = createInterpreter({
      flow,
      agent: { id: record.agentId, slug: record.slug, name: options.agentName, version: record.version },
      call: { sid: callSid, from: record.from, to: record.to },
      port: session,
      ...(options.llm ? { llm: options.llm } : {}),
      ...(options.http ? { http: options.http } : {}),
      clock,
      logger,
      onEvent: (e) => forwardFlowEvent(e, callSid, calls, session, clock),
      onSnapshot: (snapshot) => {
        saving = saving.then(() => calls.saveSnapshot(callSid, snapshot)).catch((err) => logger.warn({ err }, 'snapshot save failed'));
      },
    });
    session.stopFlow = (reason) => it.abort(reason);
    return it;
  };
  const interpreter = newInterpreter();

  let result: RunResult;
  try {
    if (record.resume && record.snapshot !== undefined) {
      await calls.setResume(callSid, undefined);
      // A failed transfer that is itself the fallback node must not dial again and again.
      const from = (record.snapshot as { position?: { nodeId?: string } | null }).position?.nodeId;
      const fallback = flow.settings.fallbackNode !== from ? flow.settings.fallbackNode : undefined;
      const at = record.resume.at ?? fallback;
      result = at
        ? await interpreter.resume(record.snapshot, { at })
        : await speakFallbackAndEnd(session, flow, record.snapshot);
    } else {
      result = await interpreter.run();
    }
    if (result.outcome === 'aborted' && result.reason === 'stt_failed' && !session.isClosed) {
      result = await speechFallback(interpreter.snapshot(), newInterpreter, session, flow, logger, (e) =>
        forwardFlowEvent(e, callSid, calls, session, clock),
      );
    }
  } catch (err) {
    logger.error({ err }, 'flow run failed');
    result = { outcome: 'failed', reason: 'internal_error' };
  }
  await saving;
  logger.info({ outcome: result.outcome, reason: result.reason, lastNodeId: result.lastNodeId }, 'flow finished');
  await session.afterRun(result);
  return result;
}

/**
 * Speech input failed for good (Deepgram gave up after its retries): the
 * flow's fallback, as for any failure: `fallbackNode` (resumed from the
 * snapshot, transcript kept) or `fallbackMessage` and hang up.
 */
async function speechFallback(
  snapshot: unknown,
  newInterpreter: () => ReturnType<typeof createInterpreter>,
  session: CallSession,
  flow: Flow,
  logger: Logger,
  onEvent: (e: FlowEvent) => void,
): Promise<RunResult> {
  const at = flow.settings.fallbackNode;
  logger.warn({ fallbackNode: at }, 'speech input lost; taking the flow fallback');
  if (!at) {
    const text = renderFallback(flow, snapshot);
    const said = await session.say(text, { interruptible: false, cacheable: !hasPlaceholders(flow.settings.fallbackMessage) });
    const nodeId = (snapshot as { position?: { nodeId?: string } | null }).position?.nodeId ?? '';
    onEvent({ type: 'turn.agent', nodeId, text, heardText: said.heardText, interrupted: said.outcome !== 'played' });
    await session.hangup('fallback');
    return { outcome: 'failed', reason: 'stt_failed' };
  }
  return newInterpreter().resume(snapshot, { at });
}

/** `fallbackMessage` with the call's variables (e.g. "{{clinicName}}"). */
function renderFallback(flow: Flow, snapshot: unknown): string {
  const variables = (snapshot as { variables?: Record<string, unknown> } | undefined)?.variables ?? {};
  return render(flow.settings.fallbackMessage, { ...flow.settings.variables, ...variables });
}

/** Back from a failed transfer with nowhere to go: the fallback message, then hang up. */
async function speakFallbackAndEnd(session: CallSession, flow: Flow, snapshot: unknown): Promise<RunResult> {
  await session.say(renderFallback(flow, snapshot), { interruptible: false, cacheable: !hasPlaceholders(flow.settings.fallbackMessage) });
  await session.hangup('fallback');
  return { outcome: 'failed', reason: 'transfer_unavailable' };
}

function forwardFlowEvent(e: FlowEvent, callSid: string, calls: Calls, session: CallSession, clock: Clock): void {
  switch (e.type) {
    case 'node.entered':
      calls.emit({ type: 'node.entered', callSid, nodeId: e.nodeId, nodeType: e.nodeType });
      return;
    case 'turn.agent': {
      // Measured at the reply's first frame, so they are ready when its say ends.
      const metrics = session.replyMetrics;
      session.replyMetrics = undefined;
      calls.emit({
        type: 'turn.agent',
        callSid,
        text: e.text,
        heardText: e.heardText,
        outcome: e.interrupted ? 'interrupted' : 'played',
        cached: session.lastSayCached,
        nodeId: e.nodeId,
        ...(metrics ? { metrics } : {}),
      });
      void calls.addTurn(callSid, {
        role: 'agent',
        text: e.interrupted ? e.heardText : e.text,
        at: clock.wallNow(),
        nodeId: e.nodeId,
        ...(e.interrupted ? { interrupted: true } : {}),
        ...(metrics ? { metrics } : {}),
      });
      return;
    }
    case 'turn.caller': {
      const via = e.digits !== undefined ? 'dtmf' : 'speech';
      const text = e.digits ?? e.text ?? '';
      calls.emit({ type: 'turn.caller', callSid, text, via });
      void calls.addTurn(callSid, { role: 'caller', text, at: clock.wallNow(), nodeId: e.nodeId, via });
      return;
    }
    case 'transfer.requested':
      calls.emit({ type: 'transfer.requested', callSid, mode: e.mode, target: e.target, nodeId: e.nodeId });
      return;
    default:
      return;
  }
}
