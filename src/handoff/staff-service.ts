import { createHash, randomBytes } from 'node:crypto';
import type { Page, PageRequest } from '../agents/types.js';
import type { Role } from '../auth/roles.js';
import type { Clock } from '../core/clock.js';
import { AppError, isAppError } from '../core/errors.js';
import { DEFAULT_SCRYPT_COST, hashPassword, type ScryptCost } from './passwords.js';
import type { QueueStore } from './queues.js';
import type { StaffChanges, StaffRecord, StaffState, StaffStore } from './staff.js';
import {
  checkClientIdentity,
  checkEmail,
  checkMaxSessions,
  checkOneDialTarget,
  checkPassword,
  checkPhone,
  checkUsername,
  staffTransition,
} from './staff-rules.js';

/**
 * The staff directory (docs/people.md): create, edit, enable/disable, remove,
 * delete, invite and activate, bulk actions, seats and usage. Storage and
 * HTTP stay outside; listeners hear every change (sessions end, sockets close,
 * account updates are pushed).
 */

/** An activation link works this long; a resend replaces it. */
export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export type StaffChange =
  | { kind: 'changed'; staff: StaffRecord }
  /** The person may no longer act: their sessions end and their sockets close at once. */
  | { kind: 'access_ended'; staffId: string; reason: 'disabled' | 'removed' | 'deleted' };

export type StaffListener = (change: StaffChange) => Promise<void> | void;

export interface Invitation {
  staff: StaffRecord;
  activationUrl: string;
  expiresAtMs: number;
}

/**
 * Where invitation mail goes. The mail job (BullMQ, SMTP_URL) plugs in here with
 * the scale-out work; until then nothing is sent and the admin shares the link
 * from the API response.
 */
export interface InvitationSender {
  send(invitation: Invitation): Promise<void>;
}

export interface CreateStaffInput {
  displayName: string;
  username: string;
  /** Absent: the person starts `invited` and sets one through an activation link. */
  password?: string | undefined;
  email?: string | null | undefined;
  role: Role;
  phone?: string | null | undefined;
  clientIdentity?: string | null | undefined;
  maxConcurrentSessions?: number | null | undefined;
  showRealPhoneNumbers?: boolean | undefined;
  queues?: string[] | undefined;
}

export interface UpdateStaffInput {
  displayName?: string | undefined;
  /** Changed only when given. */
  password?: string | undefined;
  email?: string | null | undefined;
  role?: Role | undefined;
  phone?: string | null | undefined;
  clientIdentity?: string | null | undefined;
  maxConcurrentSessions?: number | null | undefined;
  showRealPhoneNumbers?: boolean | undefined;
  queues?: string[] | undefined;
}

export type BulkAction = 'enable' | 'disable' | 'delete';
export interface BulkResult {
  id: string;
  ok: boolean;
  error?: { code: string; message: string };
}

export interface Usage {
  seats: { used: number; limit: number | null };
  /** Conversations a person handled (answered a transfer or assumed a call) in the last 30 days. */
  sessionsLast30Days: number;
}

export interface StaffServiceDeps {
  store: StaffStore;
  queues: Pick<QueueStore, 'existing'>;
  clock: Clock;
  newId: (prefix: string, nowMs: number) => string;
  /** Undefined: unlimited. */
  seatLimit: number | undefined;
  /** PUBLIC_URL: activation links point at `{publicUrl}/console/activate?token=…`. */
  publicUrl: string;
  /** Counts calls a person handled since a time (the call history). */
  handledCallsSince: (sinceMs: number) => Promise<number>;
  invitations?: InvitationSender;
  /** Default DEFAULT_SCRYPT_COST; tests pass a cheap one. */
  passwordCost?: ScryptCost;
}

export const inviteTokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

export class StaffService {
  private readonly listeners: StaffListener[] = [];

  constructor(private readonly deps: StaffServiceDeps) {}

  /** Listeners run in order and are awaited, so an access change is in force when the call returns. */
  onChange(listener: StaffListener): void {
    this.listeners.push(listener);
  }

  list(page: PageRequest): Promise<Page<StaffRecord>> {
    return this.deps.store.list(page);
  }

  async get(id: string): Promise<StaffRecord> {
    const s = await this.deps.store.get(id);
    if (!s) throw new AppError('NOT_FOUND', `no person ${id}`);
    return s;
  }

  /** States of these people; an id missing from the map was deleted. */
  statesOf(ids: readonly string[]): Promise<Map<string, StaffState>> {
    return this.deps.store.statesOf(ids);
  }

  async create(input: CreateStaffInput): Promise<StaffRecord> {
    checkUsername(input.username);
    if (input.password !== undefined) checkPassword(input.password);
    const email = checkEmail(input.email) ?? null;
    const phone = checkPhone(input.phone) ?? null;
    const clientIdentity = checkClientIdentity(input.clientIdentity) ?? null;
    checkOneDialTarget(phone, clientIdentity);
    const maxConcurrentSessions = checkMaxSessions(input.maxConcurrentSessions) ?? null;
    const queues = await this.checkQueues(input.queues ?? []);
    const nowMs = this.deps.clock.wallNow();
    return this.deps.store.insert(
      {
        id: this.deps.newId('stf', nowMs),
        displayName: input.displayName.trim(),
        username: input.username,
        email,
        role: input.role,
        state: input.password === undefined ? 'invited' : 'enabled',
        passwordHash: input.password === undefined ? null : await this.hash(input.password),
        maxConcurrentSessions,
        showRealPhoneNumbers: input.showRealPhoneNumbers ?? false,
        phone,
        clientIdentity,
        queues,
        nowMs,
      },
      this.deps.seatLimit,
    );
  }

  async update(id: string, input: UpdateStaffInput): Promise<StaffRecord> {
    const before = await this.get(id);
    if (before.state === 'removed' && (input.role !== undefined || input.queues !== undefined)) {
      throw new AppError('ILLEGAL_TRANSITION', 'a removed person gets roles and queues again through POST /staff/:id/invite', {
        state: before.state,
      });
    }
    const changes: StaffChanges = {};
    if (input.displayName !== undefined) changes.displayName = input.displayName.trim();
    if (input.password !== undefined) changes.passwordHash = await this.hash(checkPassword(input.password));
    if (input.email !== undefined) changes.email = checkEmail(input.email) ?? null;
    if (input.role !== undefined) changes.role = input.role;
    if (input.phone !== undefined) changes.phone = checkPhone(input.phone) ?? null;
    if (input.clientIdentity !== undefined) changes.clientIdentity = checkClientIdentity(input.clientIdentity) ?? null;
    checkOneDialTarget(changes.phone !== undefined ? changes.phone : before.phone, changes.clientIdentity !== undefined ? changes.clientIdentity : before.clientIdentity);
    if (input.maxConcurrentSessions !== undefined) changes.maxConcurrentSessions = checkMaxSessions(input.maxConcurrentSessions) ?? null;
    if (input.showRealPhoneNumbers !== undefined) changes.showRealPhoneNumbers = input.showRealPhoneNumbers;
    if (input.queues !== undefined) changes.queues = await this.checkQueues(input.queues);
    const after = await this.mustUpdate(id, changes);
    await this.emit({ kind: 'changed', staff: after });
    return after;
  }

  async enable(id: string): Promise<StaffRecord> {
    const before = await this.get(id);
    const after = await this.mustUpdate(id, { state: staffTransition(before.state, 'enable') });
    if (before.state !== after.state) await this.emit({ kind: 'changed', staff: after });
    return after;
  }

  async disable(id: string): Promise<StaffRecord> {
    const before = await this.get(id);
    const after = await this.mustUpdate(id, { state: staffTransition(before.state, 'disable') });
    await this.emit({ kind: 'access_ended', staffId: id, reason: 'disabled' });
    return after;
  }

  /** No access, roles and queues cleared, seat freed; the person can be invited again with new roles. */
  async remove(id: string): Promise<StaffRecord> {
    const before = await this.get(id);
    const after = await this.mustUpdate(id, {
      state: staffTransition(before.state, 'remove'),
      role: null,
      queues: [],
      passwordHash: null,
      inviteTokenHash: null,
      inviteExpiresAtMs: null,
    });
    await this.emit({ kind: 'access_ended', staffId: id, reason: 'removed' });
    return after;
  }

  /** Permanent; frees the seat. Calls the person handled stay, marked `assigneeUnreachable`. */
  async delete(id: string): Promise<void> {
    if (!(await this.deps.store.delete(id))) throw new AppError('NOT_FOUND', `no person ${id}`);
    await this.emit({ kind: 'access_ended', staffId: id, reason: 'deleted' });
  }

  /**
   * A new single-use activation link for an invited person (a resend replaces the
   * old link), or a new invitation for a removed one, who needs a role again.
   */
  async invite(id: string, input: { role?: Role | undefined; queues?: string[] | undefined } = {}): Promise<Invitation> {
    const before = await this.get(id);
    const state = staffTransition(before.state, 'invite');
    const role = input.role ?? before.role;
    if (role === null) {
      throw new AppError('VALIDATION_FAILED', 'body.role: a removed person is invited again with a role', {
        issues: [{ path: 'body.role', message: 'required to invite a removed person' }],
      });
    }
    const token = randomBytes(32).toString('base64url');
    const nowMs = this.deps.clock.wallNow();
    const expiresAtMs = nowMs + INVITATION_TTL_MS;
    const changes: StaffChanges = { state, role, inviteTokenHash: inviteTokenHash(token), inviteExpiresAtMs: expiresAtMs };
    if (input.queues !== undefined) changes.queues = await this.checkQueues(input.queues);
    // Coming back from `removed` takes a seat again: checked with the write.
    const staff = await this.deps.store.update(id, changes, nowMs, before.state === 'removed' ? this.deps.seatLimit : undefined);
    if (!staff) throw new AppError('NOT_FOUND', `no person ${id}`);
    const invitation: Invitation = {
      staff,
      activationUrl: `${this.deps.publicUrl}/console/activate?token=${encodeURIComponent(token)}`,
      expiresAtMs,
    };
    await this.deps.invitations?.send(invitation);
    return invitation;
  }

  /** Sets the password from an activation link (single use) and enables the account. */
  async activate(token: string, password: string): Promise<StaffRecord> {
    checkPassword(password);
    const found = await this.deps.store.findByInviteHash(inviteTokenHash(token));
    const nowMs = this.deps.clock.wallNow();
    if (!found || found.state !== 'invited' || found.inviteExpiresAtMs === null || found.inviteExpiresAtMs <= nowMs) {
      throw new AppError('INVALID_INVITATION', 'this activation link is not valid: it was used, replaced by a newer one, or has expired');
    }
    const staff = await this.mustUpdate(found.id, {
      state: staffTransition(found.state, 'activate'),
      passwordHash: await this.hash(password),
      inviteTokenHash: null,
      inviteExpiresAtMs: null,
    });
    await this.emit({ kind: 'changed', staff });
    return staff;
  }

  /** One result per id, in order; a failure on one id does not stop the others. */
  async bulk(ids: readonly string[], action: BulkAction): Promise<BulkResult[]> {
    const results: BulkResult[] = [];
    for (const id of ids) {
      try {
        if (action === 'enable') await this.enable(id);
        else if (action === 'disable') await this.disable(id);
        else await this.delete(id);
        results.push({ id, ok: true });
      } catch (err) {
        if (!isAppError(err)) throw err;
        results.push({ id, ok: false, error: { code: err.code, message: err.message } });
      }
    }
    return results;
  }

  async usage(): Promise<Usage> {
    const nowMs = this.deps.clock.wallNow();
    return {
      seats: { used: await this.deps.store.countSeats(), limit: this.deps.seatLimit ?? null },
      sessionsLast30Days: await this.deps.handledCallsSince(nowMs - 30 * DAY_MS),
    };
  }

  private hash(password: string): Promise<string> {
    return hashPassword(password, this.deps.passwordCost ?? DEFAULT_SCRYPT_COST);
  }

  private async mustUpdate(id: string, changes: StaffChanges): Promise<StaffRecord> {
    const after = await this.deps.store.update(id, changes, this.deps.clock.wallNow());
    if (!after) throw new AppError('NOT_FOUND', `no person ${id}`);
    return after;
  }

  private async checkQueues(ids: string[]): Promise<string[]> {
    const unique = [...new Set(ids)];
    const known = await this.deps.queues.existing(unique);
    const unknown = unique.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new AppError('VALIDATION_FAILED', `body.queues: no such queues: ${unknown.join(', ')}`, {
        issues: [{ path: 'body.queues', message: 'unknown queue ids' }],
        unknown,
      });
    }
    return unique;
  }

  private async emit(change: StaffChange): Promise<void> {
    for (const l of this.listeners) await l(change);
  }
}
