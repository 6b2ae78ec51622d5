import type { Kysely } from 'kysely';
import { systemClock, type Clock } from '../core/clock.js';
import type { TtsCacheEntry, TtsCacheStore } from '../pipeline/phrase-cache.js';
import type { DatabaseSchema } from './tables.js';

/**
 * The persistent half of the static-phrase cache (docs/architecture.md#static-phrase-cache): table `tts_cache`
 * (created by migration 0001), the same Kysely code on SQLite (`blob`) and
 * PostgreSQL (`bytea`). Times are epoch milliseconds.
 */
export class SqlTtsCacheStore implements TtsCacheStore {
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly clock: Clock = systemClock,
  ) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    const row = await this.db.selectFrom('tts_cache').select('audio').where('key', '=', key).executeTakeFirst();
    if (!row) return undefined;
    // Both drivers return a Buffer; callers get a plain view of the same bytes.
    const audio = row.audio;
    return new Uint8Array(audio.buffer, audio.byteOffset, audio.byteLength);
  }

  /** Content-addressed: a key already stored (by any process) is kept as it is. */
  async put(entry: TtsCacheEntry): Promise<void> {
    const now = this.clock.wallNow();
    await this.db
      .insertInto('tts_cache')
      .values({
        key: entry.key,
        voice_key: entry.voiceKey,
        text: entry.text,
        audio: Buffer.from(entry.audio.buffer, entry.audio.byteOffset, entry.audio.byteLength),
        bytes: entry.audio.byteLength,
        created_at: now,
        last_used_at: now,
      })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
  }

  async touch(key: string): Promise<void> {
    await this.db.updateTable('tts_cache').set({ last_used_at: this.clock.wallNow() }).where('key', '=', key).execute();
  }

  /** Phrases and bytes stored (ops and tests). */
  async stats(): Promise<{ entries: number; bytes: number }> {
    const row = await this.db
      .selectFrom('tts_cache')
      .select((eb) => [eb.fn.countAll<number>().as('entries'), eb.fn.sum<number>('bytes').as('bytes')])
      .executeTakeFirstOrThrow();
    return { entries: Number(row.entries), bytes: Number(row.bytes ?? 0) };
  }
}
