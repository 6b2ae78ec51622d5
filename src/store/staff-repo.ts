import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Page, PageRequest } from '../agents/types.js';
import type { Role } from '../auth/roles.js';
import { AppError } from '../core/errors.js';
import type { NewStaff, StaffChanges, StaffRecord, StaffSecrets, StaffState, StaffStore } from '../handoff/staff.js';
import { SEAT_STATES } from '../handoff/staff.js';
import { usernameKey } from '../handoff/staff-rules.js';
import { decodeCursor, toPage } from './cursor.js';
import { dialectOf, isUniqueViolation, type Dialect } from './db.js';
import type { DatabaseSchema, StaffTable } from './tables.js';

/** Serializes seat-taking writes on PostgreSQL (any constant; SQLite already has one writer). */
const SEAT_LOCK_KEY = 740_011;

type Row = Selectable<StaffTable>;

export class SqlStaffStore implements StaffStore {
  private readonly dialect: Dialect;

  constructor(private readonly db: Kysely<DatabaseSchema>) {
    this.dialect = dialectOf(db as unknown as Kysely<unknown>);
  }

  async insert(s: NewStaff, seatLimit: number | undefined): Promise<StaffRecord> {
    const row: StaffTable = {
      id: s.id,
      username: s.username,
      username_key: usernameKey(s.username),
      display_name: s.displayName,
      email: s.email,
      role: s.role,
      state: s.state,
      password_hash: s.passwordHash,
      max_concurrent_sessions: s.maxConcurrentSessions,
      show_real_phone_numbers: s.showRealPhoneNumbers ? 1 : 0,
      phone: s.phone,
      client_identity: s.clientIdentity,
      invite_token_hash: null,
      invite_expires_at: null,
      live_sessions: 0,
      idle_since: null,
      created_at: s.nowMs,
      updated_at: s.nowMs,
    };
    try {
      await this.db.transaction().execute(async (tx) => {
        await this.checkSeat(tx, seatLimit);
        await tx.insertInto('staff').values(row).execute();
        await setQueues(tx, s.id, s.queues);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('USERNAME_TAKEN', `the username ${s.username} is taken`, { username: s.username });
      throw err;
    }
    return toRecord(row, s.queues);
  }

  async get(id: string): Promise<StaffRecord | undefined> {
    const found = await this.getWithSecrets(id);
    return found && withoutSecrets(found);
  }

  async getWithSecrets(id: string): Promise<(StaffRecord & StaffSecrets) | undefined> {
    return this.findOne(this.db.selectFrom('staff').selectAll().where('id', '=', id));
  }

  async findByUsername(username: string): Promise<(StaffRecord & StaffSecrets) | undefined> {
    return this.findOne(this.db.selectFrom('staff').selectAll().where('username_key', '=', usernameKey(username)));
  }

  async findByInviteHash(hash: string): Promise<(StaffRecord & StaffSecrets) | undefined> {
    return this.findOne(this.db.selectFrom('staff').selectAll().where('invite_token_hash', '=', hash));
  }

  async list(page: PageRequest): Promise<Page<StaffRecord>> {
    const after = decodeCursor<string>(page.cursor, 'string');
    let q = this.db.selectFrom('staff').selectAll().orderBy('id').limit(page.limit + 1);
    if (after !== undefined) q = q.where('id', '>', after);
    const rows = await q.execute();
    const queues = await queuesOf(this.db, rows.map((r) => r.id));
    return toPage(rows, page, (r) => toRecord(r, queues.get(r.id) ?? []), (r) => r.id);
  }

  async update(id: string, c: StaffChanges, nowMs: number, seatLimit?: number): Promise<StaffRecord | undefined> {
    const set: Partial<StaffTable> = { updated_at: nowMs };
    if (c.displayName !== undefined) set.display_name = c.displayName;
    if (c.email !== undefined) set.email = c.email;
    if (c.role !== undefined) set.role = c.role;
    if (c.state !== undefined) set.state = c.state;
    if (c.passwordHash !== undefined) set.password_hash = c.passwordHash;
    if (c.maxConcurrentSessions !== undefined) set.max_concurrent_sessions = c.maxConcurrentSessions;
    if (c.showRealPhoneNumbers !== undefined) set.show_real_phone_numbers = c.showRealPhoneNumbers ? 1 : 0;
    if (c.phone !== undefined) set.phone = c.phone;
    if (c.clientIdentity !== undefined) set.client_identity = c.clientIdentity;
    if (c.inviteTokenHash !== undefined) set.invite_token_hash = c.inviteTokenHash;
    if (c.inviteExpiresAtMs !== undefined) set.invite_expires_at = c.inviteExpiresAtMs;
    const updated = await this.db.transaction().execute(async (tx) => {
      if (seatLimit !== undefined) await this.checkSeat(tx, seatLimit);
      const res = await tx.updateTable('staff').set(set).where('id', '=', id).executeTakeFirst();
      if (res.numUpdatedRows === 0n) return false;
      if (c.queues !== undefined) await setQueues(tx, id, c.queues);
      return true;
    });
    return updated ? this.get(id) : undefined;
  }

  async delete(id: string): Promise<boolean> {
    const res = await this.db.deleteFrom('staff').where('id', '=', id).executeTakeFirst();
    return res.numDeletedRows > 0n;
  }

  async countSeats(): Promise<number> {
    return countSeats(this.db);
  }

  async statesOf(ids: readonly string[]): Promise<Map<string, StaffState>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db.selectFrom('staff').select(['id', 'state']).where('id', 'in', [...ids]).execute();
    return new Map(rows.map((r) => [r.id, r.state as StaffState]));
  }

  async existing(ids: readonly string[]): Promise<Set<string>> {
    return new Set((await this.statesOf(ids)).keys());
  }

  /** Calls a person handled (the `staff_id` of the call row) created since the time. */
  async countHandledCallsSince(sinceMs: number): Promise<number> {
    const row = await this.db
      .selectFrom('calls')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('staff_id', 'is not', null)
      .where('created_at', '>=', sinceMs)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  private async checkSeat(tx: Transaction<DatabaseSchema>, seatLimit: number | undefined): Promise<void> {
    if (seatLimit === undefined) return;
    if (this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${SEAT_LOCK_KEY})`.execute(tx);
    const used = await countSeats(tx);
    if (used >= seatLimit) {
      throw new AppError('SEAT_LIMIT_REACHED', `all ${seatLimit} seats are taken (SEAT_LIMIT); delete or remove someone first`, {
        used,
        limit: seatLimit,
      });
    }
  }

  private async findOne(query: { executeTakeFirst(): Promise<Row | undefined> }): Promise<(StaffRecord & StaffSecrets) | undefined> {
    const row = await query.executeTakeFirst();
    if (!row) return undefined;
    const queues = await queuesOf(this.db, [row.id]);
    return {
      ...toRecord(row, queues.get(row.id) ?? []),
      passwordHash: row.password_hash,
      inviteTokenHash: row.invite_token_hash,
      inviteExpiresAtMs: row.invite_expires_at === null ? null : Number(row.invite_expires_at),
    };
  }
}

async function countSeats(db: Kysely<DatabaseSchema>): Promise<number> {
  const row = await db
    .selectFrom('staff')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('state', 'in', [...SEAT_STATES])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function setQueues(tx: Kysely<DatabaseSchema>, staffId: string, queues: readonly string[]): Promise<void> {
  await tx.deleteFrom('queue_members').where('staff_id', '=', staffId).execute();
  if (queues.length > 0) await tx.insertInto('queue_members').values(queues.map((q) => ({ queue_id: q, staff_id: staffId }))).execute();
}

/** Queue ids per person, sorted so views are stable. */
export async function queuesOf(db: Kysely<DatabaseSchema>, staffIds: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (staffIds.length === 0) return out;
  const rows = await db
    .selectFrom('queue_members')
    .select(['staff_id', 'queue_id'])
    .where('staff_id', 'in', [...staffIds])
    .orderBy('queue_id')
    .execute();
  for (const r of rows) out.set(r.staff_id, [...(out.get(r.staff_id) ?? []), r.queue_id]);
  return out;
}

export function toRecord(r: Row, queues: string[]): StaffRecord {
  return {
    id: r.id,
    displayName: r.display_name,
    username: r.username,
    email: r.email,
    role: r.role as Role | null,
    state: r.state as StaffState,
    queues,
    maxConcurrentSessions: r.max_concurrent_sessions === null ? null : Number(r.max_concurrent_sessions),
    showRealPhoneNumbers: Number(r.show_real_phone_numbers) === 1,
    phone: r.phone,
    clientIdentity: r.client_identity,
    liveSessions: Number(r.live_sessions),
    createdAtMs: Number(r.created_at),
    updatedAtMs: Number(r.updated_at),
  };
}

function withoutSecrets(s: StaffRecord & StaffSecrets): StaffRecord {
  const { passwordHash: _p, inviteTokenHash: _i, inviteExpiresAtMs: _e, ...record } = s;
  return record;
}
