import type { Kysely, Selectable } from 'kysely';
import type { ApiKeyRecord, ApiKeyStore, NewApiKey } from '../auth/api-keys.js';
import type { Role } from '../auth/roles.js';
import type { Page, PageRequest } from '../agents/types.js';
import { decodeCursor, toPage } from './cursor.js';
import type { ApiKeysTable, DatabaseSchema } from './tables.js';

export class SqlApiKeyStore implements ApiKeyStore {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async insert(key: NewApiKey): Promise<ApiKeyRecord> {
    const row: ApiKeysTable = {
      id: key.id,
      name: key.name,
      role: key.role,
      prefix: key.prefix,
      hash: key.hash,
      created_by: key.createdBy,
      created_at: key.nowMs,
      last_used_at: null,
    };
    await this.db.insertInto('api_keys').values(row).execute();
    return toRecord(row);
  }

  async list(page: PageRequest): Promise<Page<ApiKeyRecord>> {
    const after = decodeCursor<string>(page.cursor, 'string');
    let q = this.db.selectFrom('api_keys').selectAll().orderBy('id').limit(page.limit + 1);
    if (after !== undefined) q = q.where('id', '>', after);
    return toPage(await q.execute(), page, toRecord, (r) => r.id);
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db.selectFrom('api_keys').selectAll().where('hash', '=', hash).executeTakeFirst();
    return row && toRecord(row);
  }

  async countByRole(role: Role): Promise<number> {
    const row = await this.db
      .selectFrom('api_keys')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', role)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async touch(id: string, nowMs: number): Promise<void> {
    await this.db.updateTable('api_keys').set({ last_used_at: nowMs }).where('id', '=', id).execute();
  }

  async delete(id: string): Promise<boolean> {
    const res = await this.db.deleteFrom('api_keys').where('id', '=', id).executeTakeFirst();
    return res.numDeletedRows > 0n;
  }
}

function toRecord(r: Selectable<ApiKeysTable>): ApiKeyRecord {
  return {
    id: r.id,
    name: r.name,
    role: r.role as Role,
    prefix: r.prefix,
    createdBy: r.created_by,
    createdAtMs: Number(r.created_at),
    lastUsedAtMs: r.last_used_at === null ? null : Number(r.last_used_at),
  };
}
