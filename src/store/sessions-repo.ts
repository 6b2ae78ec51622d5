import type { Kysely } from 'kysely';
import type { Role } from '../auth/roles.js';
import type { SessionPerson, SessionRow, SessionStore } from '../handoff/sessions.js';
import type { StaffState } from '../handoff/staff.js';
import type { DatabaseSchema } from './tables.js';

export class SqlSessionStore implements SessionStore {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async insert(s: { id: string; staffId: string; tokenHash: string; nowMs: number; expiresAtMs: number }): Promise<void> {
    await this.db
      .insertInto('staff_sessions')
      .values({ id: s.id, staff_id: s.staffId, token_hash: s.tokenHash, created_at: s.nowMs, expires_at: s.expiresAtMs })
      .execute();
  }

  async findByHash(tokenHash: string): Promise<{ session: SessionRow; staff: SessionPerson } | undefined> {
    const row = await this.db
      .selectFrom('staff_sessions')
      .innerJoin('staff', 'staff.id', 'staff_sessions.staff_id')
      .select([
        'staff_sessions.id as session_id',
        'staff_sessions.expires_at',
        'staff.id as staff_id',
        'staff.username',
        'staff.role',
        'staff.state',
        'staff.show_real_phone_numbers',
      ])
      .where('staff_sessions.token_hash', '=', tokenHash)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      session: { id: row.session_id, staffId: row.staff_id, expiresAtMs: Number(row.expires_at) },
      staff: {
        id: row.staff_id,
        username: row.username,
        role: row.role as Role | null,
        state: row.state as StaffState,
        showRealPhoneNumbers: Number(row.show_real_phone_numbers) === 1,
      },
    };
  }

  async delete(sessionId: string): Promise<void> {
    await this.db.deleteFrom('staff_sessions').where('id', '=', sessionId).execute();
  }

  async deleteAllFor(staffId: string): Promise<number> {
    const res = await this.db.deleteFrom('staff_sessions').where('staff_id', '=', staffId).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  async deleteExpired(nowMs: number): Promise<number> {
    const res = await this.db.deleteFrom('staff_sessions').where('expires_at', '<=', nowMs).executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
