/**
 * Typed call events (docs/architecture.md#call-record-states). Every change to a call is one of these on the
 * bus; history, metrics and the live feed all read them. Names are stable.
 */
import type { CallState, NextStep } from './call-record.js';

interface Base {
  callSid: string;
  /** Wall-clock epoch ms. */
  at: number;
}

export type CallEvent =
  | (Base & { type: 'call.started'; agentId: string; slug: string; version: number; direction: 'inbound' | 'outbound' })
  | (Base & { type: 'call.state'; from: CallState; to: CallState; signal: string })
  | (Base & { type: 'stream.started'; streamSid: string })
  | (Base & { type: 'stream.ended'; streamSid: string; reason: string })
  | (Base & { type: 'stream.rejected'; reason: string })
  | (Base & {
      type: 'turn.caller';
      text: string;
      via: 'speech' | 'dtmf';
      metrics?: Record<string, number>;
      /** Only "uh-huh"-like words over agent audio: kept in the transcript, answered by no reply. */
      backchannel?: boolean;
    })
  | (Base & {
      type: 'turn.agent';
      text: string;
      heardText: string;
      outcome: 'played' | 'interrupted' | 'aborted';
      cached: boolean;
      nodeId?: string;
      /** Per-turn metrics of the reply (docs/architecture.md#per-turn-metrics): endpointMs, responseMs, llmFirstTokenMs, … */
      metrics?: Record<string, number>;
    })
  | (Base & { type: 'node.entered'; nodeId: string; nodeType?: string })
  /**
   * A failure (`reason`: `llm_failed`, `stt_failed`, `gather_failed`, …) in `nodeId` took the flow's
   * fallback: it goes on at `fallbackNode`, or, without one, the caller hears the fallback message
   * and the call ends `failed` (docs/architecture.md#fallbacks).
   */
  | (Base & { type: 'flow.fallback'; reason: string; nodeId?: string; fallbackNode?: string })
  | (Base & { type: 'barge_in'; heardText: string; reason: 'speech' | 'dtmf' })
  | (Base & { type: 'dtmf'; digit: string })
  | (Base & { type: 'silence.reprompt' })
  | (Base & { type: 'transfer.requested'; mode: 'warm' | 'cold'; target: { number: string } | { queue: string }; nodeId: string })
  | (Base & { type: 'transfer.degraded'; requested: 'warm' | 'cold'; ranAs: 'cold' | 'unavailable'; reason: string; nodeId: string })
  | (Base & { type: 'transfer.result'; status: string; answered: boolean })
  /** One person tried by a warm transfer or an assume (docs/handoff.md): how it went. */
  | (Base & {
      type: 'transfer.accepted' | 'transfer.no_answer' | 'transfer.declined' | 'transfer.machine' | 'transfer.caller_hung_up' | 'transfer.failed';
      staffId?: string;
      attempt?: number;
      detail?: string;
    })
  /** The person left the conference without handing the caller back: the AI takes the caller back. */
  | (Base & { type: 'handoff.person_left'; staffId: string })
  /** A person handed the caller to an AI agent; `resumes`: the same agent and version picks up where it left off. */
  | (Base & { type: 'handoff.to_ai'; agentId: string; version: number; resumes: boolean; by?: string; reason?: string })
  /** A person took the call from the AI (`POST /calls/:id/assume`): the AI stopped, the person is being rung. */
  | (Base & { type: 'handoff.assumed'; staffId: string; reason?: string })
  /** Said by the person while they had the call (transcribed from the audio fork). */
  | (Base & { type: 'turn.staff'; text: string })
  | (Base & { type: 'next_step.set'; step: NextStep })
  | (Base & { type: 'tts.failed'; text: string; error: string; fallback: 'cached' | 'twiml' | 'none' })
  | (Base & { type: 'media.ignored'; reason: string; count: number })
  /** The asynchronous answering-machine verdict of an outbound call (docs/outbound.md#answering-machine-detection). */
  | (Base & { type: 'call.answered_by'; answeredBy: string })
  /** A recording started, changed status (completed, failed, absent) or was deleted by retention. */
  | (Base & { type: 'recording.started'; recordingSid: string })
  | (Base & { type: 'recording.status'; recordingSid: string; status: string; durationSeconds?: number })
  | (Base & { type: 'recording.deleted'; recordingSid: string })
  | (Base & { type: 'call.ended'; reason: string; outcome: string });

/** Distributes an event type over the union so `Omit` keeps each variant's fields. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type CallEventInput = DistributiveOmit<CallEvent, 'at'>;

export type CallEventListener = (event: CallEvent) => void;

/**
 * Call events. `subscribe` hears the calls of this process (the history recorder
 * writes each event once, where it happened); `subscribeAll` hears every
 * process's calls (live feeds, workspace sockets). In one process they are the
 * same; with REDIS_URL, src/store/redis/call-events.ts relays between processes.
 */
export interface CallEventBus {
  publish(event: CallEvent): void;
  subscribe(listener: CallEventListener): () => void;
  subscribeAll(listener: CallEventListener): () => void;
}

export class MemoryCallEventBus implements CallEventBus {
  private readonly listeners = new Set<CallEventListener>();

  publish(event: CallEvent): void {
    for (const l of this.listeners) {
      // A failing subscriber must not break the call that published.
      try {
        l(event);
      } catch {
        /* ignored on purpose */
      }
    }
  }

  subscribe(listener: CallEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  subscribeAll(listener: CallEventListener): () => void {
    return this.subscribe(listener);
  }
}
