import type { Page, PageRequest } from '../agents/types.js';
import type { Role } from '../auth/roles.js';

/**
 * A person of the workspace (docs/people.md). "Agent" always means an AI agent;
 * people are staff. `role` is null only once the person is removed.
 */
export const STAFF_STATES = ['invited', 'enabled', 'disabled', 'removed'] as const;
export type StaffState = (typeof STAFF_STATES)[number];

export interface StaffRecord {
  id: string;
  displayName: string;
  username: string;
  email: string | null;
  role: Role | null;
  state: StaffState;
  /** Queue ids the person belongs to. */
  queues: string[];
  /** null: unlimited. */
  maxConcurrentSessions: number | null;
  showRealPhoneNumbers: boolean;
  /** E.164; where the person is dialled (or `clientIdentity`). */
  phone: string | null;
  /** A Twilio Client name, dialled as `client:<identity>`. */
  clientIdentity: string | null;
  /** Sessions (calls) the person handles right now. */
  liveSessions: number;
  createdAtMs: number;
  updatedAtMs: number;
}

/** What the store keeps beyond the record: the password hash and the pending invitation. */
export interface StaffSecrets {
  passwordHash: string | null;
  inviteTokenHash: string | null;
  inviteExpiresAtMs: number | null;
}

export interface NewStaff {
  id: string;
  displayName: string;
  username: string;
  email: string | null;
  role: Role;
  state: StaffState;
  passwordHash: string | null;
  maxConcurrentSessions: number | null;
  showRealPhoneNumbers: boolean;
  phone: string | null;
  clientIdentity: string | null;
  queues: string[];
  nowMs: number;
}

/** Fields a change may set; undefined leaves a field as it is. */
export interface StaffChanges {
  displayName?: string;
  email?: string | null;
  role?: Role | null;
  state?: StaffState;
  passwordHash?: string | null;
  maxConcurrentSessions?: number | null;
  showRealPhoneNumbers?: boolean;
  phone?: string | null;
  clientIdentity?: string | null;
  /** Replaces the person's queue memberships. */
  queues?: string[];
  inviteTokenHash?: string | null;
  inviteExpiresAtMs?: number | null;
}

/** Seats are taken by everyone not removed (invited + enabled + disabled; docs/people.md#seats-and-usage). */
export const SEAT_STATES: readonly StaffState[] = ['invited', 'enabled', 'disabled'];

/** The staff directory's storage port (SQL in src/store/staff-repo.ts). */
export interface StaffStore {
  /**
   * Inserts unless the seat limit would be passed, atomically with the count.
   * Throws USERNAME_TAKEN on a username clash (any case) and SEAT_LIMIT_REACHED when full.
   */
  insert(staff: NewStaff, seatLimit: number | undefined): Promise<StaffRecord>;
  get(id: string): Promise<StaffRecord | undefined>;
  getWithSecrets(id: string): Promise<(StaffRecord & StaffSecrets) | undefined>;
  findByUsername(username: string): Promise<(StaffRecord & StaffSecrets) | undefined>;
  findByInviteHash(hash: string): Promise<(StaffRecord & StaffSecrets) | undefined>;
  list(page: PageRequest): Promise<Page<StaffRecord>>;
  /**
   * Applies the changes; when `seatLimit` is given and the change brings a person
   * back into a seat (re-invite), checks the limit in the same atomic step.
   */
  update(id: string, changes: StaffChanges, nowMs: number, seatLimit?: number): Promise<StaffRecord | undefined>;
  delete(id: string): Promise<boolean>;
  countSeats(): Promise<number>;
  /** States of these people (missing ids were deleted). */
  statesOf(ids: readonly string[]): Promise<Map<string, StaffState>>;
}
