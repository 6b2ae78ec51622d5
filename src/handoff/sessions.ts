import { createHmac, randomBytes } from 'node:crypto';
import type { Authenticator, Principal, Role } from '../auth/roles.js';
import type { Clock } from '../core/clock.js';
import { loginKeys, type LoginThrottle } from './login-throttle.js';
import { verifyAgainstDecoy, verifyPassword, type ScryptCost } from './passwords.js';
import type { StaffRecord, StaffStore } from './staff.js';

/**
 * Sign-in (docs/people.md#sign-in): a session token is a random bearer
 * credential carrying the person's role, like an API key, and goes through the
 * same auth path. Only an HMAC of it (with SECRET_KEY) is stored. Every wrong
 * case looks the same to the caller.
 */

/** A working day and then some; a person signs in again after it. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const TOKEN_PREFIX = 'vas_';

export interface SessionRow {
  id: string;
  staffId: string;
  expiresAtMs: number;
}

/** What a request needs to know about the signed-in person, read with the session in one query. */
export type SessionPerson = Pick<StaffRecord, 'id' | 'username' | 'role' | 'state' | 'showRealPhoneNumbers'>;

export interface SessionStore {
  insert(session: { id: string; staffId: string; tokenHash: string; nowMs: number; expiresAtMs: number }): Promise<void>;
  /** The session and its person, if the token hash is known. */
  findByHash(tokenHash: string): Promise<{ session: SessionRow; staff: SessionPerson } | undefined>;
  delete(sessionId: string): Promise<void>;
  deleteAllFor(staffId: string): Promise<number>;
  deleteExpired(nowMs: number): Promise<number>;
}

export type LoginResult =
  | { kind: 'ok'; token: string; expiresAtMs: number; staff: StaffRecord }
  | { kind: 'refused' }
  | { kind: 'limited'; retryAfterSeconds: number };

export class SessionService implements Authenticator {
  constructor(
    private readonly deps: {
      sessions: SessionStore;
      staff: Pick<StaffStore, 'findByUsername'>;
      throttle: LoginThrottle;
      clock: Clock;
      secretKey: string;
      newId: (prefix: string, nowMs: number) => string;
      /** The cost new passwords are hashed with, so the decoy check of an unknown username costs the same. */
      passwordCost?: ScryptCost;
    },
  ) {}

  async login(username: string, password: string, ip: string): Promise<LoginResult> {
    const nowMs = this.deps.clock.wallNow();
    const keys = loginKeys(username, ip);
    const waitMs = await this.deps.throttle.retryAfterMs(keys, nowMs);
    if (waitMs > 0) return { kind: 'limited', retryAfterSeconds: Math.ceil(waitMs / 1000) };
    const staff = await this.deps.staff.findByUsername(username);
    const ok =
      staff?.passwordHash != null && staff.state === 'enabled' && staff.role !== null
        ? await verifyPassword(password, staff.passwordHash)
        : await verifyAgainstDecoy(password, this.deps.passwordCost);
    if (!ok || !staff) {
      await this.deps.throttle.recordFailure(keys, nowMs);
      return { kind: 'refused' };
    }
    // Expired sessions are refused anyway; sign-ins are rare enough to tidy them up here.
    await this.deps.sessions.deleteExpired(nowMs);
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const expiresAtMs = nowMs + SESSION_TTL_MS;
    await this.deps.sessions.insert({
      id: this.deps.newId('ses', nowMs),
      staffId: staff.id,
      tokenHash: this.hash(token),
      nowMs,
      expiresAtMs,
    });
    const { passwordHash: _p, inviteTokenHash: _i, inviteExpiresAtMs: _e, ...record } = staff;
    return { kind: 'ok', token, expiresAtMs, staff: record };
  }

  async logout(sessionId: string): Promise<void> {
    await this.deps.sessions.delete(sessionId);
  }

  /** Ends every session of a person (disabled, removed, deleted). */
  endAllFor(staffId: string): Promise<number> {
    return this.deps.sessions.deleteAllFor(staffId);
  }

  async authenticate(token: string): Promise<Principal | undefined> {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const found = await this.deps.sessions.findByHash(this.hash(token));
    if (!found) return undefined;
    const { session, staff } = found;
    // Checked on every request as well, so a state change is in force even before the sessions are deleted.
    if (session.expiresAtMs <= this.deps.clock.wallNow() || staff.state !== 'enabled' || staff.role === null) return undefined;
    return {
      kind: 'session',
      id: staff.id,
      name: staff.username,
      role: staff.role as Role,
      sessionId: session.id,
      showRealPhoneNumbers: staff.showRealPhoneNumbers,
    };
  }

  private hash(token: string): string {
    return createHmac('sha256', this.deps.secretKey).update(token, 'utf8').digest('hex');
  }
}
