import type { StaffRecord } from './staff.js';

/** How a person is shown by the API, GET /me and the workspace socket (docs/people.md). */
export interface StaffView {
  id: string;
  displayName: string;
  username: string;
  email: string | null;
  role: StaffRecord['role'];
  state: StaffRecord['state'];
  queues: string[];
  presence: 'online' | 'offline';
  maxConcurrentSessions: number | null;
  liveSessions: number;
  showRealPhoneNumbers: boolean;
  phone: string | null;
  clientIdentity: string | null;
  createdAt: string;
  updatedAt: string;
}

export function toStaffView(s: StaffRecord, online: boolean): StaffView {
  return {
    id: s.id,
    displayName: s.displayName,
    username: s.username,
    email: s.email,
    role: s.role,
    state: s.state,
    queues: s.queues,
    presence: online ? 'online' : 'offline',
    maxConcurrentSessions: s.maxConcurrentSessions,
    liveSessions: s.liveSessions,
    showRealPhoneNumbers: s.showRealPhoneNumbers,
    phone: s.phone,
    clientIdentity: s.clientIdentity,
    createdAt: new Date(s.createdAtMs).toISOString(),
    updatedAt: new Date(s.updatedAtMs).toISOString(),
  };
}
