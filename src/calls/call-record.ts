/**
 * The call record (docs/architecture.md#call-record-states): one per CallSid, created idempotently by
 * /twilio/voice. Its `state` moves only through the one transition table below;
 * anything else is logged and ignored by the caller of `transition`.
 */
import type { UnavailableBehaviour } from '../agents/directory.js';

export type CallState = 'connecting' | 'ai' | 'transferring' | 'human' | 'ended';

export type CallSignal =
  /** A media stream `start` passed the token check. */
  | 'stream_started'
  /** The AI hands the caller to a person (cold dial, warm later). */
  | 'transfer_requested'
  /** A person answered. */
  | 'transfer_connected'
  /** The call goes back to the AI (failed dial, transfer-to-ai): a new stream is expected. */
  | 'resume_ai'
  | 'end';

export const CALL_TRANSITIONS: Readonly<Record<CallState, Partial<Record<CallSignal, CallState>>>> = {
  connecting: { stream_started: 'ai', end: 'ended' },
  ai: { transfer_requested: 'transferring', end: 'ended' },
  transferring: { transfer_connected: 'human', resume_ai: 'connecting', end: 'ended' },
  human: { resume_ai: 'connecting', end: 'ended' },
  ended: {},
};

/** The next state, or undefined when the signal is illegal in this state. */
export function nextState(state: CallState, signal: CallSignal): CallState | undefined {
  return CALL_TRANSITIONS[state][signal];
}

/** What `/twilio/stream-ended` (the Connect action) should answer once the stream closes. */
export type NextStep =
  | { kind: 'hangup' }
  /** Say the text, then hang up (fallback message when even its audio is missing). */
  | { kind: 'say'; text: string; language?: string }
  /** Cold transfer: `<Dial>` with action /twilio/dial-result. */
  | { kind: 'dial'; number: string; timeoutSeconds?: number }
  | { kind: 'unavailable'; behaviour: UnavailableBehaviour }
  /** Stream to the AI again (a failed transfer resumes the saved snapshot). */
  | { kind: 'stream' };

export interface StreamEntry {
  streamSid: string;
  /** Wall-clock epoch ms. */
  startedAt: number;
  endedAt?: number;
  /** Why the socket closed: stop, closed, too_large, … */
  endReason?: string;
}

export type CallHandler =
  | { kind: 'ai'; agentId: string; version: number }
  | { kind: 'human'; number?: string; queue?: string }
  /** A person of the staff has the call (accepted a warm transfer or assumed it). */
  | { kind: 'person'; staffId: string }
  | { kind: 'none' };

export type CallDirection = 'inbound' | 'outbound';

export interface CallOutcome {
  /** completed, transferred, unavailable, no_stream, media_error, max_duration, tts_failed, … */
  kind: string;
  detail?: string;
}

export interface TurnRecord {
  /** `staff`: a person who had the call (transcribed from the audio fork). */
  role: 'caller' | 'agent' | 'staff';
  text: string;
  /** Wall-clock epoch ms. */
  at: number;
  interrupted?: boolean;
  nodeId?: string;
  via?: 'speech' | 'dtmf';
  metrics?: Record<string, number>;
  /** A backchannel ("uh-huh") over agent audio: in the transcript, never answered. */
  backchannel?: boolean;
}

/** A failure that took the flow's fallback: why, where, and the fallback node when the flow went on there. */
export interface FallbackRecord {
  reason: string;
  /** Wall-clock epoch ms. */
  at: number;
  nodeId?: string;
  fallbackNode?: string;
}

/** A pending transfer awaiting `/twilio/dial-result`: where the flow resumes if nobody answers. */
export interface PendingTransfer {
  nodeId: string;
  target: { number: string } | { queue: string };
  onUnavailable?: string;
}

/** Twilio's answering-machine verdict (AnsweredBy): human, machine_start, machine_end_beep, machine_end_silence, machine_end_other, fax, unknown. */
export type AnsweredBy = string;

/** A call recording made through Twilio's REST API (docs/outbound.md#recordings). */
export interface CallRecording {
  /** Twilio's RE… SID. */
  sid: string;
  /** in-progress, completed, absent, failed; `deleted` once retention removed it. */
  status: string;
  /** Twilio's media URL (without extension), once completed. */
  url?: string;
  durationSeconds?: number;
  channels?: number;
  /** Wall-clock epoch ms. */
  startedAt: number;
  deletedAt?: number;
}

/** What an outbound call carries from its request (POST /calls). */
export interface OutboundInfo {
  /** The request's id (GET /calls/outbound/:id). */
  requestId: string;
  /** Twilio's asynchronous answering-machine detection is on: the flow waits for its verdict. */
  machineDetection: boolean;
  /** Request variables: the flow sees them over its own defaults. */
  variables: Record<string, string | number | boolean>;
}

export interface CallRecord {
  callSid: string;
  accountSid: string;
  agentId: string;
  slug: string;
  /** The version pinned at call start; a resumed AI uses the same one. */
  version: number;
  from: string;
  to: string;
  direction: CallDirection;
  state: CallState;
  handler: CallHandler;
  streams: StreamEntry[];
  nextStep?: NextStep;
  /** The interpreter's JSON snapshot after its last step. */
  snapshot?: unknown;
  pendingTransfer?: PendingTransfer;
  /** Staff ids of every person who handled the call, in order (GET /usage counts such calls). */
  handledBy?: string[];
  /**
   * Set when the call goes back to the AI: resume the snapshot at `at`; without
   * it, where it stopped, unless `failed` (why: a transfer nobody took), which
   * takes the flow's fallback.
   */
  resume?: { at?: string; reason: string; failed?: string };
  outcome?: CallOutcome;
  /** Outbound calls only. */
  outbound?: OutboundInfo;
  /** Set by the asynchronous AMD callback of an outbound call. */
  answeredBy?: AnsweredBy;
  recording?: CallRecording;
  turns: TurnRecord[];
  /**
   * Every time a failure took the flow's fallback (the `flow.fallback` events), so a call that went
   * on at the fallback node and ended `completed` still shows the caller heard it.
   */
  fallbacks?: FallbackRecord[];
  metrics: {
    framesIn: number;
    framesOut: number;
    ignoredFrames: number;
    bargeIns: number;
    ttsRequests: number;
    cachedPhrases: number;
  };
  /** Wall-clock epoch ms. */
  createdAt: number;
  endedAt?: number;
}

export function newCallRecord(init: {
  callSid: string;
  accountSid: string;
  agentId: string;
  slug: string;
  version: number;
  from: string;
  to: string;
  direction: CallDirection;
  outbound?: OutboundInfo;
  nowMs: number;
}): CallRecord {
  const { nowMs, ...rest } = init;
  return {
    ...rest,
    state: 'connecting',
    handler: { kind: 'ai', agentId: init.agentId, version: init.version },
    streams: [],
    turns: [],
    metrics: { framesIn: 0, framesOut: 0, ignoredFrames: 0, bargeIns: 0, ttsRequests: 0, cachedPhrases: 0 },
    createdAt: nowMs,
  };
}
