import type { Flow } from '../flow/schema.js';
import type { UnavailableBehaviour } from './directory.js';

/** The lifecycle states (docs/architecture.md#agent-lifecycle). */
export type AgentState = 'draft' | 'active' | 'inactive';

export interface AgentRecord {
  id: string;
  slug: string;
  name: string;
  state: AgentState;
  servedVersion: number | null;
  latestVersion: number;
  draft: {
    /** The flow as last saved; null until the first save. */
    flow: unknown;
    revision: number;
    updatedAtMs: number;
  };
  /** null: the default behaviour applies. */
  unavailable: UnavailableBehaviour | null;
  /** Publishing runs the stored test suite against the draft first and refuses on a failure. */
  requireTestsToPublish: boolean;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface VersionRecord {
  agentId: string;
  version: number;
  flow: Flow;
  author: string;
  note: string | null;
  /** The draft revision this version was published from. */
  draftRevision: number;
  createdAtMs: number;
}

export type LifecycleAction = 'activate' | 'deactivate' | 'switch' | 'rollback';

export interface AuditEntry {
  id: string;
  agentId: string;
  action: LifecycleAction;
  actor: string;
  fromState: AgentState;
  toState: AgentState;
  fromVersion: number | null;
  toVersion: number | null;
  reason: string | null;
  createdAtMs: number;
}

export interface PhoneNumberRecord {
  e164: string;
  agentId: string;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}
