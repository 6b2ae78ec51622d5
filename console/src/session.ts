import { api, ApiError, setToken, setUnauthenticatedHandler, type Role } from './api';
import { Store } from './store';

/** Who is signed in. API keys work as Bearer tokens like staff sessions do. */
export interface Session {
  token: string;
  kind: 'staff' | 'key';
  role: Role;
  name: string;
  expiresAt?: string;
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

type Staff = { displayName?: string; username?: string; role?: Role };

export async function signInWithPassword(username: string, password: string): Promise<Session> {
  const r = await api<{ token: string; expiresAt: string; staff: Staff }>('POST', '/auth/login', { username, password }, null);
  const s: Session = {
    token: r.token,
    kind: 'staff',
    role: r.staff.role ?? 'support',
    name: r.staff.displayName ?? r.staff.username ?? username,
    expiresAt: r.expiresAt,
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
    const me = await api<Record<string, unknown> & Staff & { staff?: Staff; principal?: Staff & { name?: string }; name?: string }>('GET', '/me', undefined, token);
    role = me.role ?? me.staff?.role ?? me.principal?.role;
    name = me.displayName ?? me.staff?.displayName ?? me.principal?.name ?? me.name ?? name;
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
};
