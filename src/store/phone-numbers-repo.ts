import type { Kysely, Selectable } from 'kysely';
import type { AssignResult, PhoneNumberStore } from '../agents/store.js';
import type { Page, PageRequest, PhoneNumberRecord } from '../agents/types.js';
import { decodeCursor, toPage } from './cursor.js';
import type { DatabaseSchema, PhoneNumbersTable } from './tables.js';

/** Number → agent assignments; the primary key keeps one agent per number. */
export class SqlPhoneNumberStore implements PhoneNumberStore {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async list(page: PageRequest): Promise<Page<PhoneNumberRecord>> {
    const after = decodeCursor<string>(page.cursor, 'string');
    let q = this.db.selectFrom('phone_numbers').selectAll().orderBy('e164').limit(page.limit + 1);
    if (after !== undefined) q = q.where('e164', '>', after);
    return toPage(await q.execute(), page, toRecord, (r) => r.e164);
  }

  async get(e164: string): Promise<PhoneNumberRecord | undefined> {
    const row = await this.db.selectFrom('phone_numbers').selectAll().where('e164', '=', e164).executeTakeFirst();
    return row && toRecord(row);
  }

  async listForAgent(agentId: string): Promise<PhoneNumberRecord[]> {
    const rows = await this.db.selectFrom('phone_numbers').selectAll().where('agent_id', '=', agentId).orderBy('e164').execute();
    return rows.map(toRecord);
  }

  async assign(e164: string, agentId: string, nowMs: number): Promise<AssignResult> {
    // One statement: a free number is inserted, the same agent's is touched, and
    // another agent's is left alone (the conditional upsert returns no row).
    const row = await this.db
      .insertInto('phone_numbers')
      .values({ e164, agent_id: agentId, created_at: nowMs, updated_at: nowMs })
      .onConflict((oc) => oc.column('e164').doUpdateSet({ updated_at: nowMs }).where('phone_numbers.agent_id', '=', agentId))
      .returningAll()
      .executeTakeFirst();
    if (row) return { ok: true, record: toRecord(row) };
    const holder = await this.get(e164);
    if (!holder) return this.assign(e164, agentId, nowMs); // released in between; try again
    return { ok: false, takenBy: holder.agentId };
  }

  async unassign(e164: string): Promise<boolean> {
    const res = await this.db.deleteFrom('phone_numbers').where('e164', '=', e164).executeTakeFirst();
    return res.numDeletedRows > 0n;
  }
}

function toRecord(r: Selectable<PhoneNumbersTable>): PhoneNumberRecord {
  return { e164: r.e164, agentId: r.agent_id, createdAtMs: Number(r.created_at), updatedAtMs: Number(r.updated_at) };
}
