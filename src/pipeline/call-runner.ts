import type { Calls } from '../calls/calls.js';
import type { CallRecord } from '../calls/call-record.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { StopReason } from '../core/stop-reason.js';
import type { FlowEvent, RunResult } from '../flow/events.js';
import type { FetchLike } from '../flow/http-request.js';
import { createInterpreter, type ChannelFailure, type Interpreter } from '../flow/interpreter.js';
import type { Flow } from '../flow/schema.js';
import type { InterpreterSnapshot } from '../flow/snapshot.js';
import type { LlmPort } from '../providers/llm/port.js';
import type { CallSession } from './call-session.js';
import type { SpeechHandle } from './speech-handle.js';

/**
 * Runs the flow of one call on its session: starts the interpreter (or
 * resumes the saved snapshot when the call comes back to the AI), saves the
 * snapshot after each step, and turns flow events into call events. Every
 * fallback is the interpreter's; the runner only passes channel failures on.
 */
export interface CallRunnerOptions {
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

export class CallRunner {
  private readonly interpreter: Interpreter;
  /** Snapshots are saved in order; a slow save must not reorder them. */
  private saving: Promise<void> = Promise.resolve();
  /** The utterance that just ended: its metrics and cache use go with the flow's `turn.agent`. */
  private lastSpeech: SpeechHandle | undefined;

  constructor(private readonly o: CallRunnerOptions) {
    const { record, flow, calls, session, logger } = o;
    this.interpreter = createInterpreter({
      flow,
      agent: { id: record.agentId, slug: record.slug, name: o.agentName, version: record.version },
      // `caller.number` is the other party: on an outbound call, the number we called.
      call:
        record.direction === 'outbound'
          ? { sid: record.callSid, from: record.to, to: record.from }
          : { sid: record.callSid, from: record.from, to: record.to },
      port: session,
      ...(o.llm ? { llm: o.llm } : {}),
      ...(o.http ? { http: o.http } : {}),
      clock: o.clock,
      logger,
      onEvent: (e) => this.forward(e),
      onSnapshot: (snapshot) => {
        this.saving = this.saving
          .then(() => calls.saveSnapshot(record.callSid, snapshot))
          .catch((err) => logger.warn({ err }, 'snapshot save failed'));
      },
    });
    session.events.on((e) => {
      if (e.type === 'speech_ended') this.lastSpeech = e.speech;
    });
  }

  /** Runs (or resumes) the flow to its end and ends the call as the result says; `variables` start a fresh run. */
  async run(variables?: Readonly<Record<string, unknown>>): Promise<RunResult> {
    const { session, record, calls, logger } = this.o;
    let result: RunResult;
    try {
      if (record.resume && record.snapshot !== undefined) {
        await calls.setResume(record.callSid, undefined);
        // Back from a transfer nobody took: its onUnavailable node, else the flow's fallback.
        // Back from a person (hand back, assume nobody answered): `at`, else where it stopped.
        result = await this.interpreter.resume(record.snapshot, {
          ...(record.resume.at ? { at: record.resume.at } : {}),
          ...(record.resume.failed ? { failed: record.resume.failed } : {}),
        });
      } else {
        result = await this.interpreter.run(variables);
      }
    } catch (err) {
      logger.error({ err }, 'flow run failed');
      result = { outcome: 'failed', reason: 'internal_error' };
    }
    await this.saving;
    logger.info({ outcome: result.outcome, reason: result.reason, lastNodeId: result.lastNodeId }, 'flow finished');
    await session.finish(result);
    return result;
  }

  /** Speech input or output is gone for good: the flow takes its fallback. */
  fail(reason: ChannelFailure): void {
    this.interpreter.fail(reason);
  }

  /** Stops the flow quietly; its snapshot stays resumable. */
  stop(reason: StopReason): void {
    this.interpreter.abort(reason);
  }

  snapshot(): InterpreterSnapshot {
    return this.interpreter.snapshot();
  }

  private forward(e: FlowEvent): void {
    const { calls, clock, record } = this.o;
    const callSid = record.callSid;
    switch (e.type) {
      case 'node.entered':
        calls.emit({ type: 'node.entered', callSid, nodeId: e.nodeId, nodeType: e.nodeType });
        return;
      case 'turn.agent': {
        // The utterance this turn was spoken as; its metrics were measured at the reply's first frame.
        const speech = this.lastSpeech;
        this.lastSpeech = undefined;
        const metrics = speech?.metrics ? { ...speech.metrics } : undefined;
        calls.emit({
          type: 'turn.agent',
          callSid,
          text: e.text,
          heardText: e.heardText,
          outcome: e.interrupted ? 'interrupted' : 'played',
          cached: speech?.cached ?? false,
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
      case 'flow.fallback': {
        const where = { ...(e.nodeId ? { nodeId: e.nodeId } : {}), ...(e.fallbackNode ? { fallbackNode: e.fallbackNode } : {}) };
        calls.emit({ type: 'flow.fallback', callSid, reason: e.reason, ...where });
        void calls.addFallback(callSid, { reason: e.reason, at: clock.wallNow(), ...where });
        return;
      }
      default:
        return;
    }
  }
}
