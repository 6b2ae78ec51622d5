import type { Kysely } from 'kysely';
import type { DatabaseSchema } from './tables.js';

/** Workspace-wide values every process shares (the generated SECRET_KEY, …). */
export class SqlSettingsStore {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async get(key: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value;
  }

  /**
   * Stores `candidate` unless the key already has a value, and returns whichever
   * value won: processes starting together all end up with the same one.
   */
  async getOrInsert(key: string, candidate: string, nowMs: number): Promise<{ value: string; created: boolean }> {
    const inserted = await this.db
      .insertInto('settings')
      .values({ key, value: candidate, created_at: nowMs })
      .onConflict((oc) => oc.column('key').doNothing())
      .returning('value')
      .executeTakeFirst();
    if (inserted) return { value: inserted.value, created: true };
    const value = await this.get(key);
    if (value === undefined) throw new Error(`setting ${key} vanished while being read`);
    return { value, created: false };
  }
}
