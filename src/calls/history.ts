import type { CallRecord, CallState } from './call-record.js';
import type { CallEvent } from './events.js';

/**
 * Call history: finished and live call records with their events, kept after
 * the process that held the call is gone. SQL implements it
 * (src/store/calls-repo.ts); the live ledger writes through to it
 * (src/calls/recorder.ts).
 */
export interface CallListFilter {
  agentId?: string | undefined;
  state?: CallState | undefined;
}

export interface CallPageRequest extends CallListFilter {
  limit: number;
  cursor?: string | undefined;
}

export interface CallPage {
  items: CallRecord[];
  nextCursor: string | null;
}

export interface CallHistory {
  /**
   * Inserts or replaces the record of its CallSid. The record is read before the first await,
   * so the caller may hand over a live record (CallRepository.peek) that changes afterwards.
   */
  save(record: Readonly<CallRecord>): Promise<void>;
  /**
   * `save` for several records (distinct CallSids) in one write: all are stored or none. The
   * records are read before the first await, as by `save`.
   */
  saveAll(records: readonly Readonly<CallRecord>[]): Promise<void>;
  /** Appends events; each keeps its place in the call's history. */
  appendEvents(events: readonly CallEvent[]): Promise<void>;
  get(callSid: string): Promise<CallRecord | undefined>;
  /** The call's events, oldest first. */
  events(callSid: string): Promise<CallEvent[]>;
  /** Newest first. */
  page(request: CallPageRequest): Promise<CallPage>;
}
