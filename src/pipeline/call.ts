import type { AgentDirectory } from '../agents/directory.js';
import type { CallControl } from '../calls/call-control.js';
import type { Calls } from '../calls/calls.js';
import type { Clock } from '../core/clock.js';
import { Emitter } from '../core/emitter.js';
import type { Logger } from '../core/logger.js';
import type { StopReason } from '../core/stop-reason.js';
import type { RunResult } from '../flow/events.js';
import type { FetchLike } from '../flow/http-request.js';
import type { Flow } from '../flow/schema.js';
import type { InterpreterSnapshot } from '../flow/snapshot.js';
import type { LlmPort } from '../providers/llm/port.js';
import type { SttPort } from '../providers/stt/port.js';
import type { TtsPort, VoiceSpec } from '../providers/tts/port.js';
import { CallRunner } from './call-runner.js';
import { CallSession, type PeopleTransfer } from './call-session.js';
import { CallListening } from './listening.js';
import type { MediaChannel, StreamHandler } from './media-channel.js';
import type { Pacer } from './pacer.js';
import type { PlayoutTotals } from './playout.js';
import { ReplyLlm } from './reply-llm.js';
import type { PhraseSource } from './speaker.js';
import type { SpeechHandle } from './speech-handle.js';
import { SHUTDOWN_GOODBYE } from './static-phrases.js';

/**
 * One live call, assembled in one place. `startCall` builds everything a call
 * needs (the session that speaks and listens on the media stream, the
 * listening side with turn-taking and metrics, the call's LLM decorator, the
 * flow runner) and wires them through events; it returns the one handle the
 * rest of the process uses: the media transport feeds `handle.stream`, and
 * the status callback, the shutdown drain and (later) handoff use `stop`,
 * `park` and `on`.
 *
 * Ownership: the session owns speech out, keypad and listen timers; the
 * listening side owns STT and turn-taking; the runner owns the interpreter;
 * this module owns how they react to each other. No part writes another's
 * fields.
 */

/** What every call of the process shares (the Twilio edge passes its own). */
export interface CallDeps {
  calls: Calls;
  callControl?: CallControl;
  clock: Clock;
  logger: Logger;
  pacer?: Pacer;
  tts: TtsPort;
  phrases: PhraseSource;
  /** Undefined: calls run keypad-only. */
  stt?: SttPort;
  llm?: LlmPort;
  /** The transport of http nodes and tools (default: internal destinations refused). */
  http?: FetchLike;
  directory: Pick<AgentDirectory, 'getVersion'>;
  voiceFor(flow: Flow): VoiceSpec;
  transferVia?: 'stream' | 'rest';
  /** Live calls of this process by CallSid: a call adds itself when it starts and removes itself when it ends. */
  live: Map<string, CallHandle>;
  /** The process's playout underrun totals (read by /metrics). */
  playoutTotals?: PlayoutTotals;
  /** Warm and queue transfers (the handoff module); without it they run degraded. */
  people?: PeopleTransfer;
  /** Starts the call's recording (flows with `settings.recording`); failures are the recorder's to log. */
  startRecording?(callSid: string): Promise<void>;
}

/**
 * An outbound call with answering-machine detection waits this long for
 * Twilio's verdict before its flow starts with `call.answeredBy` = `unknown`:
 * Twilio itself gives up after 30 s (MachineDetectionTimeout) and reports
 * `unknown`; the margin covers a slow callback.
 */
export const ANSWERED_BY_WAIT_MS = 35_000;

/** The accepted media stream of one call. */
export interface CallStream {
  callSid: string;
  channel: MediaChannel;
  logger: Logger;
}

export type LiveCallEvent =
  /** An utterance ended: outcome, heard text and turn metrics are on the handle. */
  | { type: 'speech'; speech: SpeechHandle }
  /** `stop` or `park` was asked for. */
  | { type: 'stopping'; reason: StopReason }
  /** The AI stopped and the caller is still on the line; the snapshot resumes it. */
  | { type: 'parked'; snapshot: InterpreterSnapshot }
  /** The AI's part of the call is over. */
  | { type: 'ended'; result: RunResult };

export interface CallHandle {
  readonly callSid: string;
  /** What the media transport feeds (caller audio, keys, marks, stop, close). */
  readonly stream: StreamHandler;
  /** Resolves with the flow's result once the AI's part is over (after any stop or park). */
  readonly done: Promise<RunResult>;
  on(listener: (event: LiveCallEvent) => void): () => void;
  /**
   * Ends the AI's part: the turn in progress is aborted with `reason`.
   * `hangup`: the caller is gone (nothing more is played). `shutdown`: the
   * caller hears a short goodbye and is hung up. Anything else closes the
   * stream, and Twilio asks /twilio/stream-ended what comes next.
   */
  stop(reason: StopReason): Promise<void>;
  /**
   * Stops the AI and keeps the caller on the line with the stream open (for
   * handoff): returns the interpreter snapshot to resume from, here or in
   * another agent.
   */
  park(): Promise<InterpreterSnapshot>;
}

/** Builds and starts one call; undefined when the call cannot be served (no record, or its flow version is gone). */
export async function startCall(deps: CallDeps, stream: CallStream): Promise<CallHandle | undefined> {
  const { calls, clock } = deps;
  const { callSid, channel, logger } = stream;
  const record = await calls.get(callSid);
  if (!record) return undefined;
  const version = await deps.directory.getVersion(record.agentId, record.version);
  if (!version) {
    logger.error({ agentId: record.agentId, version: record.version }, 'pinned flow version not found');
    return undefined;
  }
  const flow = version.flow;
  const events = new Emitter<LiveCallEvent>((err, e) => logger.warn({ err, event: e.type }, 'live call listener failed'));
  const llm = deps.llm ? new ReplyLlm(deps.llm) : undefined;
  const session = new CallSession({
    callSid,
    channel,
    calls,
    ...(deps.callControl ? { callControl: deps.callControl } : {}),
    clock,
    logger,
    ...(deps.pacer ? { pacer: deps.pacer } : {}),
    tts: deps.tts,
    phrases: deps.phrases,
    flow,
    voice: deps.voiceFor(flow),
    ...(deps.transferVia ? { transferVia: deps.transferVia } : {}),
    ...(deps.playoutTotals ? { playoutTotals: deps.playoutTotals } : {}),
    ...(deps.people ? { people: deps.people } : {}),
  });
  const listening = new CallListening({ callSid, session, stt: deps.stt, flow, calls, clock, logger, ...(llm ? { llm } : {}) });
  llm?.setHooks(listening.llmHooks());
  const runner = new CallRunner({
    session,
    record,
    flow,
    agentName: flow.name,
    calls,
    clock,
    logger,
    ...(llm ? { llm } : {}),
    ...(deps.http ? { http: deps.http } : {}),
  });

  let stopping: StopReason | undefined;
  session.events.on((e) => {
    if (e.type === 'speech_ended') events.emit({ type: 'speech', speech: e.speech });
    else if (e.type === 'failed') runner.fail(e.reason);
    // The stream is gone (caller hung up, transfer, stream error) or the call was stopped:
    // the flow stops quietly. A close by the flow's own hang-up lets it finish with its outcome.
    else if (e.type === 'closed' && !e.byFlow) runner.stop(stopping ?? e.reason);
  });

  listening.start();
  if (flow.settings.recording && deps.startRecording) void deps.startRecording(callSid);
  const closed = new AbortController();
  session.events.on((e) => {
    if (e.type === 'closed') closed.abort();
  });
  const done = (async () => {
    const outbound = record.outbound;
    const variables: Record<string, unknown> = { ...outbound?.variables };
    // The flow can branch on the verdict, so it starts once the verdict is in (the stream is already open).
    if (outbound?.machineDetection) variables['call.answeredBy'] = await answeredBy(deps, callSid, closed.signal);
    return runner.run(variables);
  })().catch((err: unknown): RunResult => {
    logger.error({ err }, 'call run failed');
    return { outcome: 'failed', reason: 'internal_error' };
  });
  const handle: CallHandle = {
    callSid,
    stream: session,
    done,
    on: (listener) => events.on(listener),
    async stop(reason) {
      if (stopping) return void (await done);
      stopping = reason;
      events.emit({ type: 'stopping', reason });
      if (reason === 'hangup') {
        session.close('hangup');
        await done;
        return;
      }
      runner.stop(reason);
      await done;
      if (reason === 'shutdown' && !session.isClosed) {
        // A short goodbye, then hang up.
        await session.say(SHUTDOWN_GOODBYE, { interruptible: false, cacheable: true });
        await session.endCall('shutdown', 'shutdown');
        return;
      }
      if (!session.isClosed) {
        channel.close(reason);
        session.close(reason);
      }
    },
    async park() {
      if (!stopping) {
        stopping = 'assume';
        events.emit({ type: 'stopping', reason: 'assume' });
        runner.stop('assume');
      }
      await done;
      const snapshot = runner.snapshot();
      events.emit({ type: 'parked', snapshot });
      return snapshot;
    },
  };
  deps.live.set(callSid, handle);
  void done.then((result) => {
    if (deps.live.get(callSid) === handle) deps.live.delete(callSid);
    events.emit({ type: 'ended', result });
  });
  return handle;
}

/** The AMD verdict of an outbound call: already stored, or the `call.answered_by` event, or `unknown` after ANSWERED_BY_WAIT_MS. */
async function answeredBy(deps: CallDeps, callSid: string, closed: AbortSignal): Promise<string> {
  const { calls, clock } = deps;
  return new Promise<string>((resolve) => {
    let settled = false;
    const done = (verdict: string) => {
      if (settled) return;
      settled = true;
      off();
      timer.cancel();
      closed.removeEventListener('abort', onClosed);
      resolve(verdict);
    };
    const onClosed = () => done('unknown');
    // Subscribe first, then read the record: a verdict arriving in between is not lost.
    // Every process's events: the verdict may be stored by another process just as the stream starts here.
    const off = calls.bus.subscribeAll((e) => {
      if (e.callSid === callSid && e.type === 'call.answered_by') done(e.answeredBy);
    });
    const timer = clock.setTimeout(() => done('unknown'), ANSWERED_BY_WAIT_MS);
    closed.addEventListener('abort', onClosed, { once: true });
    if (closed.aborted) onClosed();
    void calls.get(callSid).then((r) => {
      if (r?.answeredBy) done(r.answeredBy);
    });
  });
}
