import type {
  AgentPatch,
  AgentRecord,
  AgentState,
  AuditEntry,
  LifecycleAction,
  Page,
  PageRequest,
  PhoneNumberRecord,
  VersionRecord,
} from './types.js';
import type { Flow } from '../flow/schema.js';

/**
 * The persistence ports the agent domain needs; src/store implements them on
 * SQL. Every method that must be atomic says so, and the implementation does it
 * in one statement or one transaction.
 */
export interface NewAgent {
  slug: string;
  name: string;
  draftFlow: unknown;
  nowMs: number;
}

export type SaveDraftResult =
  | { ok: true; revision: number }
  | { ok: false; currentRevision: number }
  | undefined;

export interface TransitionChange {
  /** The state and served version the change was decided on (compare-and-set). */
  expect: { state: AgentState; servedVersion: number | null };
  next: { state: AgentState; servedVersion: number | null };
  audit: { action: LifecycleAction; actor: string; reason: string | null };
  nowMs: number;
}

export interface AgentStore {
  /** Throws AppError SLUG_TAKEN when the slug exists. */
  insert(agent: NewAgent): Promise<AgentRecord>;
  get(id: string): Promise<AgentRecord | undefined>;
  getBySlug(slug: string): Promise<AgentRecord | undefined>;
  list(page: PageRequest): Promise<Page<AgentRecord>>;
  update(id: string, patch: AgentPatch, nowMs: number): Promise<boolean>;
  /** Atomic: succeeds only when the stored revision still equals `baseRevision`. */
  saveDraft(id: string, flow: unknown, baseRevision: number, nowMs: number): Promise<SaveDraftResult>;
  /** Atomic: takes the next version number; concurrent publishes get distinct numbers. */
  publish(
    id: string,
    version: { flow: Flow; author: string; note: string | null; draftRevision: number; nowMs: number },
  ): Promise<VersionRecord>;
  getVersion(id: string, version: number): Promise<VersionRecord | undefined>;
  listVersions(id: string, page: PageRequest): Promise<Page<VersionRecord>>;
  /** Atomic compare-and-set of state and served version, with its audit entry. False when the agent changed meanwhile. */
  transition(id: string, change: TransitionChange): Promise<boolean>;
  listAudit(id: string, page: PageRequest): Promise<Page<AuditEntry>>;
  /** Deletes unless the agent is active; 'active' when refused, false when missing. */
  deleteUnlessActive(id: string): Promise<true | false | 'active'>;
}

export type AssignResult = { ok: true; record: PhoneNumberRecord } | { ok: false; takenBy: string };

export interface PhoneNumberStore {
  list(page: PageRequest): Promise<Page<PhoneNumberRecord>>;
  get(e164: string): Promise<PhoneNumberRecord | undefined>;
  listForAgent(agentId: string): Promise<PhoneNumberRecord[]>;
  /** Atomic: assigns when the number is free or already this agent's; otherwise reports the holder. */
  assign(e164: string, agentId: string, nowMs: number): Promise<AssignResult>;
  unassign(e164: string): Promise<boolean>;
}
