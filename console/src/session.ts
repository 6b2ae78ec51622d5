import { api, ApiError, setToken, setUnauthenticatedHandler, type Role } from './api';
import { Store } from './store';

/** Who is signed in. API keys work as Bearer tokens like staff sessions do. */
export interface Session {
  token: string;
  kind: 'staff' | 'key';
  role: Role;
  name: string;
  expiresAt?: string;
  staffId?: string;
}

const KEY = 'console.session';

function load(): Session | null {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Session | null;
    if (!s?.token) return null;
    if (s.expiresAt && Date.parse(s.expiresAt) <= Date.now()) return null;
    return s;
  } catch {
    return null;
  }
}

export const session = new Store<Session | null>(load());
setToken(session.get()?.token ?? null);

function save(s: Session | null): void {
  if (s) localStorage.setItem(KEY, JSON.stringify(s));
  else localStorage.removeItem(KEY);
  setToken(s?.token ?? null);
  session.set(s);
}

setUnauthenticatedHandler(() => save(null));

type Staff = { id?: string; displayName?: string; username?: string; role?: Role | null; state?: string };
export type StaffAccount = Staff;

export async function signInWithPassword(username: string, password: string): Promise<Session> {
  const r = await api<{ token: string; expiresAt: string; staff: Staff }>('POST', '/auth/login', { username, password }, null);
  const s: Session = {
    token: r.token,
    kind: 'staff',
    role: r.staff.role ?? 'support',
    name: r.staff.displayName ?? r.staff.username ?? username,
    expiresAt: r.expiresAt,
    staffId: r.staff.id,
  };
  save(s);
  return s;
}

/** An API key has no profile: ask /me, or else find its role from what the API lets it do (read-only probes). */
export async function signInWithKey(key: string): Promise<Session> {
  const token = key.trim();
  await api('GET', '/agents?limit=1', undefined, token); // 401 here means the key is wrong
  let role: Role | undefined;
  let name = 'API key';
  try {
    // { kind: 'api-key', apiKey: { id, name, role } } or { kind: 'session', staff } (docs/api.md).
    const me = await api<{ apiKey?: { name?: string; role?: Role }; staff?: Staff }>('GET', '/me', undefined, token);
    role = me.apiKey?.role ?? me.staff?.role ?? undefined;
    name = me.apiKey?.name ? `Key ${me.apiKey.name}` : (me.staff?.displayName ?? name);
  } catch {
    // /me may not know API keys; fall through to probing.
  }
  if (!role) role = await probeRole(token);
  const s: Session = { token, kind: 'key', role, name };
  save(s);
  return s;
}

async function probeRole(token: string): Promise<Role> {
  if (await allowed(() => api('GET', '/api-keys?limit=1', undefined, token))) return 'admin';
  // Sending to a chat that does not exist changes nothing: 403 for support, 404 for a builder.
  if (await allowed(() => api('POST', '/test-chats/role-probe/messages', { text: '' }, token))) return 'builder';
  return 'support';
}

async function allowed(call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (e) {
    return !(e instanceof ApiError && (e.status === 403 || e.status === 401));
  }
}

/** The workspace socket pushes the person's own account when an admin changes it (name, role). */
export function updateFromAccount(staff: StaffAccount): void {
  const s = session.get();
  if (!s || s.kind !== 'staff' || !staff.role) return;
  save({ ...s, role: staff.role, name: staff.displayName ?? s.name });
}

export async function signOut(): Promise<void> {
  const s = session.get();
  if (s?.kind === 'staff') {
    try {
      await api('POST', '/auth/logout', {});
    } catch {
      // the session is dropped here either way
    }
  }
  save(null);
}

/** What each role may change (the API refuses the rest anyway; the console does not offer it). */
export const can = {
  editAgents: (r: Role | undefined) => r === 'admin' || r === 'builder',
  manageStaff: (r: Role | undefined) => r === 'admin',
  /** GET /analytics is for admins and builders (docs/api.md). */
  viewAnalytics: (r: Role | undefined) => r === 'admin' || r === 'builder',
  /** Which agent answers a number is an admin decision. */
  assignNumbers: (r: Role | undefined) => r === 'admin',
};
