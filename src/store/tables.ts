/**
 * Row types of every table, as Kysely sees them. Ids and JSON are text, times are
 * epoch milliseconds (bigint on PostgreSQL, integer on SQLite), on both dialects.
 */
export interface AgentsTable {
  id: string;
  slug: string;
  name: string;
  state: string;
  served_version: number | null;
  latest_version: number;
  /** The draft flow as saved (JSON text), null until the first save. */
  draft_flow: string | null;
  draft_revision: number;
  draft_updated_at: number;
  /** Unavailable behaviour (JSON text); null means the default. */
  unavailable: string | null;
  /** 1: publishing runs the stored test suite first (migration 0004). */
  require_tests_to_publish: number;
  /** `{ url, secret }` of the agent's outbound webhook (JSON text, migration 0006); null: none. */
  webhook: string | null;
  /** Outbound limits (JSON text, migration 0008); null means the defaults. */
  outbound: string | null;
  created_at: number;
  updated_at: number;
}

/** An agent's flow test suite and its last run (migration 0004). */
export interface AgentTestsTable {
  agent_id: string;
  suite: string;
  updated_by: string;
  updated_at: number;
  last_run: string | null;
}

export interface AgentVersionsTable {
  agent_id: string;
  version: number;
  flow: string;
  author: string;
  note: string | null;
  draft_revision: number;
  created_at: number;
}

export interface AgentAuditTable {
  id: string;
  agent_id: string;
  action: string;
  actor: string;
  from_state: string;
  to_state: string;
  from_version: number | null;
  to_version: number | null;
  reason: string | null;
  created_at: number;
}

export interface PhoneNumbersTable {
  e164: string;
  agent_id: string;
  created_at: number;
  updated_at: number;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  role: string;
  /** The first characters of the key, kept for display. */
  prefix: string;
  /** sha256 of the whole key, hex. */
  hash: string;
  created_by: string | null;
  created_at: number;
  last_used_at: number | null;
}

export interface SettingsTable {
  key: string;
  value: string;
  created_at: number;
}

export interface TtsCacheTable {
  key: string;
  voice_key: string;
  text: string;
  audio: Uint8Array;
  bytes: number;
  created_at: number;
  last_used_at: number;
}

/** A call record (src/calls/call-record.ts): searchable fields as columns, the whole record as JSON. */
export interface CallsTable {
  call_sid: string;
  agent_id: string;
  slug: string;
  version: number;
  direction: string;
  state: string;
  from_number: string;
  to_number: string;
  /** The outcome's kind, once known. */
  outcome: string | null;
  record: string;
  created_at: number;
  ended_at: number | null;
  updated_at: number;
  /** The person who last handled the call (migration 0003); null while only AI handled it. */
  staff_id?: string | null;
  /** The call's result class once ended (src/calls/call-result.ts; migration 0005). */
  result?: string | null;
  /** 1 once the flow asked for a transfer (a `transfer.requested` event; migration 0005). */
  transfer_requested?: number;
  /** Post-call processing's result as JSON (src/calls/post-call.ts; migration 0007); null until it ran. */
  post_call?: string | null;
  /** The call's recording (migration 0008): Twilio's RE… SID, media URL, length, status; deleted by retention. */
  recording_sid?: string | null;
  recording_url?: string | null;
  recording_duration_s?: number | null;
  recording_status?: string | null;
  recording_deleted_at?: number | null;
}

/** One measured agent reply (migration 0005): its per-turn metrics as columns, for percentiles in SQL. */
export interface CallTurnMetricsTable {
  /** The `turn.agent` event's id. */
  id: string;
  call_sid: string;
  agent_id: string;
  version: number;
  at: number;
  endpoint_ms: number | null;
  response_ms: number | null;
  llm_first_token_ms: number | null;
  llm_first_sentence_ms: number | null;
  tts_first_byte_ms: number | null;
  overhead_ms: number | null;
}

export interface CallEventsTable {
  /** Time-sortable (src/store/ids.ts): the history's order. */
  id: string;
  call_sid: string;
  type: string;
  at: number;
  /** The whole event as JSON. */
  data: string;
}

/** A person of the workspace (docs/people.md). */
export interface StaffTable {
  id: string;
  username: string;
  username_key: string;
  display_name: string;
  email: string | null;
  role: string | null;
  state: string;
  password_hash: string | null;
  max_concurrent_sessions: number | null;
  show_real_phone_numbers: number;
  phone: string | null;
  client_identity: string | null;
  invite_token_hash: string | null;
  invite_expires_at: number | null;
  live_sessions: number;
  idle_since: number | null;
  created_at: number;
  updated_at: number;
}

export interface QueuesTable {
  id: string;
  name: string;
  name_key: string;
  created_at: number;
  updated_at: number;
}

export interface QueueMembersTable {
  queue_id: string;
  staff_id: string;
}

export interface StaffSessionsTable {
  id: string;
  staff_id: string;
  token_hash: string;
  created_at: number;
  expires_at: number;
}

export interface DatabaseSchema {
  agents: AgentsTable;
  agent_versions: AgentVersionsTable;
  agent_audit: AgentAuditTable;
  agent_tests: AgentTestsTable;
  phone_numbers: PhoneNumbersTable;
  api_keys: ApiKeysTable;
  settings: SettingsTable;
  tts_cache: TtsCacheTable;
  calls: CallsTable;
  call_events: CallEventsTable;
  call_turn_metrics: CallTurnMetricsTable;
  staff: StaffTable;
  queues: QueuesTable;
  queue_members: QueueMembersTable;
  staff_sessions: StaffSessionsTable;
}
