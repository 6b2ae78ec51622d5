import type { Flow } from '../flow/schema.js';
import type { UnavailableBehaviour } from './directory.js';

/** The lifecycle states (docs/architecture.md#agent-lifecycle). */
export type AgentState = 'draft' | 'active' | 'inactive';

/** How fast an agent may place outbound calls (docs/outbound.md#limits). */
export interface OutboundLimits {
  /** Outbound calls of this agent dialling or in progress at once; more wait in its queue. */
  maxConcurrent: number;
  /** Outbound calls this agent may start in any 60 seconds. */
  perMinute: number;
}

export const DEFAULT_OUTBOUND_LIMITS: OutboundLimits = { maxConcurrent: 5, perMinute: 30 };

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
  /** Where this agent's call events are POSTed (docs/jobs.md#webhooks); null: nowhere. */
  webhook: AgentWebhook | null;
  /** null: DEFAULT_OUTBOUND_LIMITS apply. */
  outbound: OutboundLimits | null;
  createdAtMs: number;
  updatedAtMs: number;
}

/** An agent's outbound webhook: the receiver's URL and the HMAC-SHA256 key its deliveries are signed with. */
export interface AgentWebhook {
  url: string;
  secret: string;
}

/** What `PATCH /agents/:id` may change; undefined fields stay, null restores the default. */
export interface AgentPatch {
  name?: string;
  unavailable?: UnavailableBehaviour | null;
  requireTestsToPublish?: boolean;
  webhook?: AgentWebhook | null;
  outbound?: OutboundLimits | null;
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
