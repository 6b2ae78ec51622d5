import type { Kysely, Selectable } from 'kysely';
import type { Page, PageRequest } from '../agents/types.js';
import { AppError } from '../core/errors.js';
import { queueNameKey, type QueueRecord, type QueueStore } from '../handoff/queues.js';
import { decodeCursor, toPage } from './cursor.js';
import { isUniqueViolation } from './db.js';
import type { DatabaseSchema, QueuesTable } from './tables.js';

export class SqlQueueStore implements QueueStore {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async insert(q: { id: string; name: string; members: string[]; nowMs: number }): Promise<QueueRecord> {
    const row: QueuesTable = { id: q.id, name: q.name, name_key: queueNameKey(q.name), created_at: q.nowMs, updated_at: q.nowMs };
    try {
      await this.db.transaction().execute(async (tx) => {
        await tx.insertInto('queues').values(row).execute();
        await setMembers(tx, q.id, q.members);
      });
    } catch (err) {
      throw nameTaken(err, q.name);
    }
    return toRecord(row, [...q.members].sort());
  }

  async get(id: string): Promise<QueueRecord | undefined> {
    const row = await this.db.selectFrom('queues').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    return toRecord(row, (await this.membersOf([id])).get(id) ?? []);
  }

  async list(page: PageRequest): Promise<Page<QueueRecord>> {
    const after = decodeCursor<string>(page.cursor, 'string');
    let q = this.db.selectFrom('queues').selectAll().orderBy('id').limit(page.limit + 1);
    if (after !== undefined) q = q.where('id', '>', after);
    const rows = await q.execute();
    const members = await this.membersOf(rows.map((r) => r.id));
    return toPage(rows, page, (r) => toRecord(r, members.get(r.id) ?? []), (r) => r.id);
  }

  async update(id: string, c: { name?: string; members?: string[] }, nowMs: number): Promise<QueueRecord | undefined> {
    try {
      const found = await this.db.transaction().execute(async (tx) => {
        const res = await tx
          .updateTable('queues')
          .set({ updated_at: nowMs, ...(c.name !== undefined ? { name: c.name, name_key: queueNameKey(c.name) } : {}) })
          .where('id', '=', id)
          .executeTakeFirst();
        if (res.numUpdatedRows === 0n) return false;
        if (c.members !== undefined) await setMembers(tx, id, c.members);
        return true;
      });
      return found ? this.get(id) : undefined;
    } catch (err) {
      throw nameTaken(err, c.name ?? '');
    }
  }

  async delete(id: string): Promise<boolean> {
    const res = await this.db.deleteFrom('queues').where('id', '=', id).executeTakeFirst();
    return res.numDeletedRows > 0n;
  }

  async existing(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db.selectFrom('queues').select('id').where('id', 'in', [...ids]).execute();
    return new Set(rows.map((r) => r.id));
  }

  private async membersOf(queueIds: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (queueIds.length === 0) return out;
    const rows = await this.db
      .selectFrom('queue_members')
      .select(['queue_id', 'staff_id'])
      .where('queue_id', 'in', [...queueIds])
      .orderBy('staff_id')
      .execute();
    for (const r of rows) out.set(r.queue_id, [...(out.get(r.queue_id) ?? []), r.staff_id]);
    return out;
  }
}

async function setMembers(tx: Kysely<DatabaseSchema>, queueId: string, members: readonly string[]): Promise<void> {
  await tx.deleteFrom('queue_members').where('queue_id', '=', queueId).execute();
  if (members.length > 0) await tx.insertInto('queue_members').values(members.map((s) => ({ queue_id: queueId, staff_id: s }))).execute();
}

function nameTaken(err: unknown, name: string): unknown {
  return isUniqueViolation(err) ? new AppError('QUEUE_NAME_TAKEN', `a queue named ${name} exists`, { name }) : err;
}

function toRecord(r: Selectable<QueuesTable>, members: string[]): QueueRecord {
  return { id: r.id, name: r.name, members, createdAtMs: Number(r.created_at), updatedAtMs: Number(r.updated_at) };
}
