/** The console's only way to the server: the public /api/v1 with a Bearer token. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

let token: string | null = null;
let onUnauthenticated: () => void = () => {};

export function setToken(t: string | null): void {
  token = t;
}

/** Called when a signed-in request gets 401 (expired or revoked session). */
export function setUnauthenticatedHandler(fn: () => void): void {
  onUnauthenticated = fn;
}

export async function api<T = unknown>(method: string, path: string, body?: unknown, useToken: string | null = token): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (useToken) headers.authorization = `Bearer ${useToken}`;
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The server cannot be reached. Check your connection and try again.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: handled below
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)?.error;
    if (res.status === 401 && useToken && useToken === token) onUnauthenticated();
    throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? `The server answered ${res.status}.`, err?.details);
  }
  return data as T;
}

export const enc = encodeURIComponent;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Every page of a list (the console's lists are small: agents, numbers, versions). */
export async function all<T>(path: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  const sep = path.includes('?') ? '&' : '?';
  do {
    const page: Page<T> = await api<Page<T>>('GET', `${path}${sep}limit=100${cursor ? `&cursor=${enc(cursor)}` : ''}`);
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

// Shapes of the API (docs/api.md).
export type Role = 'admin' | 'builder' | 'support';
export type AgentState = 'draft' | 'active' | 'inactive';
export type Unavailable = { message: string; then: 'hangup' | { number: string } | { queue: string } };

export interface Agent {
  id: string;
  slug: string;
  name: string;
  state: AgentState;
  servedVersion: number | null;
  latestVersion: number;
  draft: { revision: number; updatedAt: string };
  unavailable: Unavailable;
  createdAt: string;
}

export interface Finding {
  code: string;
  message: string;
  nodeId?: string;
  path: string;
}

export interface Validation {
  valid: boolean;
  errors: Finding[];
  warnings: Finding[];
}

export interface VersionSummary {
  version: number;
  author: string;
  note: string | null;
  draftRevision: number;
  createdAt: string;
}

export interface Version extends VersionSummary {
  flow: Record<string, unknown>;
}

export interface AuditEntry {
  id: string;
  action: 'activate' | 'deactivate' | 'switch' | 'rollback';
  actor: string;
  fromState: AgentState;
  toState: AgentState;
  fromVersion: number | null;
  toVersion: number | null;
  reason: string | null;
  at: string;
}

export interface PhoneNumber {
  e164: string;
  agentId: string;
  createdAt: string;
  updatedAt: string;
}

export interface ChatTurn {
  id: string;
  status: string;
  replies: { type: 'say' | 'transfer' | 'hangup'; text?: string; nodeId?: string; target?: unknown; mode?: string }[];
  transitions: { from: string | null; to: string; nodeType: string }[];
  expects: { speech: boolean; dtmf: boolean } | null;
  variables: Record<string, unknown>;
  result: unknown;
}

export type StaffState = 'invited' | 'enabled' | 'disabled' | 'removed';

export interface Staff {
  id: string;
  displayName: string;
  username: string;
  email: string | null;
  role: Role | null;
  state: StaffState;
  queues: string[];
  presence: 'online' | 'offline';
  maxConcurrentSessions: number | null;
  liveSessions?: number;
  showRealPhoneNumbers: boolean;
  phone: string | null;
  clientIdentity: string | null;
  createdAt: string;
}

export interface Queue {
  id: string;
  name: string;
  members: string[];
}

export interface Usage {
  seats: { used: number; limit: number | null };
  sessionsLast30Days: number;
}

export type CallState = 'connecting' | 'ai' | 'transferring' | 'human' | 'ended';

export interface CallSummary {
  id: string;
  agent: { id: string; slug: string };
  version: number;
  from: string;
  to: string;
  direction: 'inbound' | 'outbound';
  state: CallState;
  outcome: { kind: string; detail?: string } | null;
  createdAt: string;
  endedAt: string | null;
  assignee?: string | null;
  assigneeUnreachable?: boolean;
}

export interface CallTurn {
  role: 'caller' | 'agent' | 'staff';
  text: string;
  at: string;
  interrupted?: boolean;
  nodeId?: string;
  via?: 'speech' | 'dtmf';
  metrics?: Record<string, number>;
}

export interface CallDetail extends CallSummary {
  handler: { kind: string; agentId?: string; version?: number; staffId?: string };
  turns: CallTurn[];
  metrics: Record<string, number>;
  events: ({ type: string; at: string } & Record<string, unknown>)[];
  recordingUrl?: string;
}
