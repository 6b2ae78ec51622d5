import type { Clock } from '../core/clock.js';
import type { PresenceStore } from './presence.js';

/**
 * Assignment (docs/people.md#assignment), the one place that picks a person for a
 * call. Eligible: `enabled`, online, a member of the queue, and with fewer live
 * sessions than `maxConcurrentSessions` (null: unlimited). Among them the one idle
 * longest wins: people with no live session first, by how long since their last
 * session ended; then busy people, by how long since their last assignment.
 * Choosing and taking the session happen in one atomic step of the store
 * (a SQL transaction with row locks on PostgreSQL; SQLite has one writer), so
 * concurrent transfers never push anyone over their limit.
 */
export interface ClaimRequest {
  queueId: string;
  /** People online now (presence); only they can be chosen. */
  onlineIds: readonly string[];
  /** People already tried for this transfer: not rung again. */
  excludeIds: readonly string[];
  nowMs: number;
}

export interface Assignee {
  staffId: string;
  displayName: string;
  phone: string | null;
  clientIdentity: string | null;
  /** Live sessions after this claim. */
  liveSessions: number;
}

export interface AssignmentStore {
  /** Atomically chooses the longest-idle eligible person and takes one session of theirs. */
  claim(request: ClaimRequest): Promise<Assignee | undefined>;
  /** Takes one session of this person, whatever their limit (they chose the call: assume). */
  take(staffId: string, nowMs: number): Promise<void>;
  /** Gives a session back (the call ended, the person passed or left). Never below zero. */
  release(staffId: string, nowMs: number): Promise<void>;
}

export class Assignment {
  constructor(
    private readonly deps: {
      store: AssignmentStore;
      presence: Pick<PresenceStore, 'onlineIds'>;
      clock: Clock;
    },
  ) {}

  /** The person to offer the call to, with their session already counted; undefined when nobody is eligible. */
  async assign(queueId: string, options: { exclude?: readonly string[] } = {}): Promise<Assignee | undefined> {
    const onlineIds = await this.deps.presence.onlineIds();
    if (onlineIds.length === 0) return undefined;
    return this.deps.store.claim({ queueId, onlineIds, excludeIds: options.exclude ?? [], nowMs: this.deps.clock.wallNow() });
  }

  /** Counts a session the person took themselves (assume), so assignment sees them busy. */
  takeSession(staffId: string): Promise<void> {
    return this.deps.store.take(staffId, this.deps.clock.wallNow());
  }

  /** Ends one session of the person (call over, offer declined or not answered). */
  release(staffId: string): Promise<void> {
    return this.deps.store.release(staffId, this.deps.clock.wallNow());
  }
}
