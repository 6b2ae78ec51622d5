import { sql, type Kysely } from 'kysely';
import type { Assignee, AssignmentStore, ClaimRequest } from '../handoff/assignment.js';
import { dialectOf, type Dialect } from './db.js';
import type { DatabaseSchema } from './tables.js';

/**
 * The atomic step of assignment on SQL. PostgreSQL: the queue's eligible rows are
 * locked (`FOR UPDATE`, in id order so two transfers never deadlock) and read at
 * their latest committed values, the choice is made from those, and the session
 * is taken before the lock is released. SQLite: the transaction is the only
 * writer, so read-choose-write cannot interleave.
 */
export class SqlAssignmentStore implements AssignmentStore {
  private readonly dialect: Dialect;

  constructor(private readonly db: Kysely<DatabaseSchema>) {
    this.dialect = dialectOf(db as unknown as Kysely<unknown>);
  }

  async claim(req: ClaimRequest): Promise<Assignee | undefined> {
    if (req.onlineIds.length === 0) return undefined;
    return this.db.transaction().execute(async (tx) => {
      let q = tx
        .selectFrom('staff')
        .innerJoin('queue_members', 'queue_members.staff_id', 'staff.id')
        .select([
          'staff.id',
          'staff.display_name',
          'staff.phone',
          'staff.client_identity',
          'staff.live_sessions',
          'staff.max_concurrent_sessions',
          'staff.idle_since',
        ])
        .where('queue_members.queue_id', '=', req.queueId)
        .where('staff.state', '=', 'enabled')
        .where('staff.role', 'is not', null)
        .where('staff.id', 'in', [...req.onlineIds])
        .orderBy('staff.id');
      if (req.excludeIds.length > 0) q = q.where('staff.id', 'not in', [...req.excludeIds]);
      if (this.dialect === 'postgres') q = q.forUpdate('staff');
      const rows = await q.execute();
      const eligible = rows
        .map((r) => ({ ...r, live: Number(r.live_sessions), max: r.max_concurrent_sessions === null ? null : Number(r.max_concurrent_sessions) }))
        .filter((r) => r.max === null || r.live < r.max)
        .sort(
          (a, b) =>
            Number(a.live > 0) - Number(b.live > 0) ||
            (a.idle_since === null ? -Infinity : Number(a.idle_since)) - (b.idle_since === null ? -Infinity : Number(b.idle_since)) ||
            (a.id < b.id ? -1 : 1),
        );
      const chosen = eligible[0];
      if (!chosen) return undefined;
      await tx
        .updateTable('staff')
        .set({ live_sessions: sql<number>`live_sessions + 1`, idle_since: req.nowMs })
        .where('id', '=', chosen.id)
        .execute();
      return {
        staffId: chosen.id,
        displayName: chosen.display_name,
        phone: chosen.phone,
        clientIdentity: chosen.client_identity,
        liveSessions: chosen.live + 1,
      };
    });
  }

  async take(staffId: string, nowMs: number): Promise<void> {
    await this.db
      .updateTable('staff')
      .set({ live_sessions: sql<number>`live_sessions + 1`, idle_since: nowMs })
      .where('id', '=', staffId)
      .execute();
  }

  async release(staffId: string, nowMs: number): Promise<void> {
    await this.db
      .updateTable('staff')
      .set({
        live_sessions: sql<number>`case when live_sessions > 0 then live_sessions - 1 else 0 end`,
        // Idle from the moment the last session ends; a busy person keeps their last assignment time.
        idle_since: sql<number>`case when live_sessions <= 1 then ${nowMs} else idle_since end`,
      })
      .where('id', '=', staffId)
      .execute();
  }
}
